#include "dbus/limit_controllers.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace corral::dbus {
namespace {

// (the limit's name, its value, the controller it needs)
std::vector<std::tuple<const char*, uint64_t, const char*>> Wanted(const ContainerConfig& c) {
  return {{"Memory", c.memory_bytes, "memory"},
          {"Tasks", c.tasks, "pids"},
          {"CPUWeight", c.cpu_weight, "cpu"},
          {"CPUQuota", c.cpu_quota_percent, "cpu"}};
}

}  // namespace

std::vector<std::string> UnenforcedLimits(const ContainerConfig& config, const LimitControllers& host) {
  std::vector<std::string> unenforced;
  for (const auto& [limit, value, controller] : Wanted(config)) {
    if (value != 0 && !host.available.count(controller)) {
      unenforced.push_back(absl::StrCat(limit, ": no ", controller, " controller"));
    }
  }
  return unenforced;
}

absl::Status CheckLimitsEnforceable(const LimitsChange& change, const LimitControllers& host) {
  ContainerConfig asked;  // only the limits the change sets; 0 (none) needs no controller
  asked.memory_bytes = change.memory_bytes.value_or(0);
  asked.tasks = change.tasks.value_or(0);
  asked.cpu_weight = change.cpu_weight.value_or(0);
  asked.cpu_quota_percent = change.cpu_quota_percent.value_or(0);
  for (const auto& [limit, value, controller] : Wanted(asked)) {
    if (value == 0) continue;
    if (absl::Status enforceable = runtime::RequireController(host, limit, controller); !enforceable.ok()) {
      return enforceable;
    }
  }
  return absl::OkStatus();
}

}  // namespace corral::dbus
