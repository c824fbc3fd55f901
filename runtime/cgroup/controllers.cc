#include "runtime/cgroup/controllers.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "runtime/cgroup/cgroup.h"

namespace corral::runtime {
namespace {

constexpr const char* kControllers[] = {"memory", "pids", "cpu"};

}  // namespace

LimitControllers ParseLimitControllers(absl::string_view mountinfo, absl::string_view cgroup2_controllers) {
  CgroupMounts mounts = ParseCgroupMounts(mountinfo);
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
  CgroupMounts mounts = ParseCgroupMounts(mountinfo);
  std::string controllers;
  if (mounts.unified) controllers = ReadFile(mounts.unified->mount_point + "/cgroup.controllers").value_or("");
  return ParseLimitControllers(mountinfo, controllers);
}

absl::Status RequireController(const LimitControllers& host, absl::string_view limit, absl::string_view controller) {
  if (host.available.count(std::string(controller))) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("cannot enforce ", limit, ": this host's cgroups have no ",
                                                    controller, " controller (", host.where,
                                                    "), so the limit would not be in force; nothing was changed"));
}

}  // namespace corral::runtime
