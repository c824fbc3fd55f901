#include "dbus/supervisor/cgroup_dirs.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace corral::dbus {

absl::StatusOr<std::string> Cgroup2MountPoint() {
  ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  std::string mount_point;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    for (size_t i = 6; i + 1 < fields.size(); ++i) {
      if (fields[i] == "-" && fields[i + 1] == "cgroup2") mount_point = std::string(fields[4]);
    }
  }
  if (mount_point.empty()) return absl::FailedPreconditionError("no cgroup2 file system is mounted");
  return mount_point;
}

absl::StatusOr<std::string> Cgroup2DirectoryOf(pid_t pid) {
  ASSIGN_OR_RETURN(std::string mount_point, Cgroup2MountPoint());
  ASSIGN_OR_RETURN(std::string cgroups, ReadFile(pid == 0 ? "/proc/self/cgroup" : absl::StrCat("/proc/", pid, "/cgroup")));
  for (absl::string_view line : absl::StrSplit(cgroups, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "0::")) return absl::StrCat(mount_point, line == "/" ? "" : line);
  }
  return absl::FailedPreconditionError("no cgroup2 line in /proc/PID/cgroup");
}

}  // namespace corral::dbus
