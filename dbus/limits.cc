#include "dbus/limits.h"

#include "absl/strings/str_cat.h"

namespace corral::dbus {

int ReadLimits(sd_bus_message* m, LimitsChange* change, std::string* problem) {
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char* key = nullptr;
    if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
    std::string k = key;
    std::optional<uint64_t>* slot = k == "Memory"      ? &change->memory_bytes
                                    : k == "Tasks"     ? &change->tasks
                                    : k == "CPUWeight" ? &change->cpu_weight
                                    : k == "CPUQuota"  ? &change->cpu_quota_percent
                                                       : nullptr;
    if (slot == nullptr) {
      *problem = absl::StrCat("unknown limit ", k, " (known: Memory, Tasks, CPUWeight, CPUQuota)");
      return 0;
    }
    r = sd_bus_message_enter_container(m, 'v', "t");
    if (r == 0 || r == -ENXIO) {
      *problem = absl::StrCat("limit ", k, " must be of type t");
      return 0;
    }
    if (r < 0) return r;
    uint64_t value = 0;
    if ((r = sd_bus_message_read(m, "t", &value)) < 0) return r;
    *slot = value;
    if ((r = sd_bus_message_exit_container(m)) < 0 || (r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

absl::StatusOr<ContainerConfig> ApplyLimits(const ContainerConfig& config, const LimitsChange& change) {
  if (change.empty()) return absl::InvalidArgumentError("no limit given (Memory, Tasks, CPUWeight, CPUQuota)");
  ContainerConfig updated = config;
  if (change.memory_bytes) updated.memory_bytes = *change.memory_bytes;
  if (change.tasks) updated.tasks = *change.tasks;
  if (change.cpu_weight) updated.cpu_weight = *change.cpu_weight;
  if (change.cpu_quota_percent) updated.cpu_quota_percent = *change.cpu_quota_percent;
  if (updated.tasks > 4194304) return absl::InvalidArgumentError("Tasks: at most 4194304 (the kernel's pid_max)");
  absl::Status valid = ValidateConfig(updated);
  if (!valid.ok()) return absl::InvalidArgumentError(valid.message());
  return updated;
}

std::vector<std::pair<std::string, uint64_t>> SystemdLimitProperties(const LimitsChange& change) {
  auto or_infinity = [](uint64_t v) { return v == 0 ? UINT64_MAX : v; };
  std::vector<std::pair<std::string, uint64_t>> out;
  if (change.memory_bytes) out.emplace_back("MemoryMax", or_infinity(*change.memory_bytes));
  if (change.tasks) out.emplace_back("TasksMax", or_infinity(*change.tasks));
  if (change.cpu_weight) out.emplace_back("CPUWeight", or_infinity(*change.cpu_weight));
  if (change.cpu_quota_percent) {
    out.emplace_back("CPUQuotaPerSecUSec", *change.cpu_quota_percent == 0 ? UINT64_MAX : *change.cpu_quota_percent * 10000);
  }
  return out;
}

std::vector<const char*> ChangedLimitProperties(const LimitsChange& change) {
  std::vector<const char*> out;
  if (change.memory_bytes) out.push_back("Memory");
  if (change.tasks) out.push_back("Tasks");
  if (change.cpu_weight) out.push_back("CPUWeight");
  if (change.cpu_quota_percent) out.push_back("CPUQuota");
  return out;
}

}  // namespace corral::dbus
