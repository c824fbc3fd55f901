// Whether this host's cgroups can enforce a container's limits at all: the memory, pids and cpu
// controllers behind Memory, Tasks and CPUWeight/CPUQuota. systemd accepts MemoryMax= and the
// rest for a scope whose cgroup has no such controller and enforces nothing (a pure cgroup2
// systemd on a hybrid host, whose controllers are bound to the host's v1 hierarchies; a
// delegated subtree without them); corrald refuses such a limit by name instead (SetLimits)
// or warns and says so in the UnenforcedLimits property (CreateContainer, a stored config).
#ifndef CORRAL_DBUS_LIMIT_CONTROLLERS_H_
#define CORRAL_DBUS_LIMIT_CONTROLLERS_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dbus/container_config.h"
#include "dbus/limits.h"

namespace corral::dbus {

// The controllers a scope's limits can be enforced with, and where they were looked for.
struct LimitControllers {
  std::set<std::string> available;  // of "memory", "pids", "cpu"
  std::string where;                // "cgroup2 at /sys/fs/cgroup (controllers: ...)", for messages
};

// From /proc/self/mountinfo and the cgroup2 root's cgroup.controllers: a controller is there
// when a v1 hierarchy of it is mounted (systemd's hybrid layout uses those), or cgroup2's root
// lists it (the root of this cgroup namespace: what systemd can enable down to a scope).
LimitControllers ParseLimitControllers(absl::string_view mountinfo, absl::string_view cgroup2_controllers);
// The same for this host.
LimitControllers ReadLimitControllers();

// Each non-zero limit of `config` the host cannot enforce, as "Memory: no memory controller"
// (0 is "no limit": nothing to enforce).
std::vector<std::string> UnenforcedLimits(const ContainerConfig& config, const LimitControllers& host);
// FailedPrecondition naming the first limit of `change` (non-zero) the host cannot enforce and
// the missing controller; OK otherwise.
absl::Status CheckLimitsEnforceable(const LimitsChange& change, const LimitControllers& host);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIMIT_CONTROLLERS_H_
