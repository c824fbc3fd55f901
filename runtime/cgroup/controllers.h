// Whether this host's cgroups can enforce a container's limits at all: the memory, pids and cpu
// controllers behind MemoryMax=, TasksMax= and CPUWeight=/CPUQuota=. systemd accepts those for a
// scope whose cgroup has no such controller and enforces nothing (a pure cgroup2 systemd on a
// hybrid host, whose controllers are bound to the host's v1 hierarchies; a delegated subtree
// without them), so corrald and corral-run look first and refuse or warn by name.
#ifndef CORRAL_RUNTIME_CGROUP_CONTROLLERS_H_
#define CORRAL_RUNTIME_CGROUP_CONTROLLERS_H_

#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace corral::runtime {

// The controllers a scope's limits can be enforced with, and where they were looked for.
struct LimitControllers {
  std::set<std::string> available;  // of "memory", "pids", "cpu"
  std::string where;                // "cgroup2 at /sys/fs/cgroup offers ...", for messages
};

// From /proc/self/mountinfo and the cgroup2 root's cgroup.controllers: a controller is there
// when a v1 hierarchy of it is mounted (systemd's hybrid layout uses those), or cgroup2's root
// lists it (the root of this cgroup namespace: what systemd can enable down to a scope).
LimitControllers ParseLimitControllers(absl::string_view mountinfo, absl::string_view cgroup2_controllers);
// The same for this host.
LimitControllers ReadLimitControllers();

// FailedPrecondition "cannot enforce LIMIT: this host's cgroups have no CONTROLLER controller
// (where), so the limit would not be in force; nothing was changed" when `host` lacks it.
absl::Status RequireController(const LimitControllers& host, absl::string_view limit, absl::string_view controller);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CGROUP_CONTROLLERS_H_
