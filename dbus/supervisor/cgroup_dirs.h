// Where cgroup2 is mounted and which cgroup2 directory a process is in: what the supervisor
// needs to make its leaves, and corrald to find a scope's cgroup.
#ifndef CORRAL_DBUS_SUPERVISOR_CGROUP_DIRS_H_
#define CORRAL_DBUS_SUPERVISOR_CGROUP_DIRS_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace corral::dbus {

// Where cgroup2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host.
absl::StatusOr<std::string> Cgroup2MountPoint();

// The cgroup2 directory of process `pid` (0: this one), under Cgroup2MountPoint().
absl::StatusOr<std::string> Cgroup2DirectoryOf(pid_t pid);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_CGROUP_DIRS_H_
