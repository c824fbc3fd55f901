#include "dbus/limit_controllers.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "runtime/cgroup/cgroup.h"

namespace corral::dbus {
namespace {

constexpr const char* kControllers[] = {"memory", "pids", "cpu"};

// (the limit's name, its value, the controller it needs)
std::vector<std::tuple<const char*, uint64_t, const char*>> Wanted(const ContainerConfig& c) {
  return {{"Memory", c.memory_bytes, "memory"},
          {"Tasks", c.tasks, "pids"},
          {"CPUWeight", c.cpu_weight, "cpu"},
          {"CPUQuota", c.cpu_quota_percent, "cpu"}};
}

}  // namespace

LimitControllers ParseLimitControllers(absl::string_view mountinfo, absl::string_view cgroup2_controllers) {
  runtime::CgroupMounts mounts = runtime::ParseCgroupMounts(mountinfo);
  LimitControllers host;
  std::set<std::string> v2;
  for (absl::string_view c : absl::StrSplit(cgroup2_controllers, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    v2.insert(std::string(c));
  }
  std::vector<std::string> v1;
  for (const char* c : kControllers) {
    if (mounts.v1.count(c)) {
      host.available.insert(c);
      v1.push_back(c);
    } else if (mounts.unified && v2.count(c)) {
      host.available.insert(c);
    }
  }
  host.where = mounts.unified ? absl::StrCat("cgroup2 at ", mounts.unified->mount_point, " offers \"",
                                             absl::StripAsciiWhitespace(cgroup2_controllers), "\"")
                              : std::string("no cgroup2 is mounted");
  host.where += v1.empty() ? ", no v1 hierarchy of them is mounted"
                           : absl::StrCat(", v1 hierarchies: ", absl::StrJoin(v1, " "));
  return host;
}

LimitControllers ReadLimitControllers() {
  std::string mountinfo = ReadFile("/proc/self/mountinfo").value_or("");
  runtime::CgroupMounts mounts = runtime::ParseCgroupMounts(mountinfo);
  std::string controllers;
  if (mounts.unified) controllers = ReadFile(mounts.unified->mount_point + "/cgroup.controllers").value_or("");
  return ParseLimitControllers(mountinfo, controllers);
}

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
    if (value != 0 && !host.available.count(controller)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot enforce ", limit, ": this host's cgroups have no ", controller, " controller (", host.where,
          "), so the limit would not be in force; nothing was changed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corral::dbus
