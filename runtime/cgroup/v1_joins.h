// A hybrid host's cgroup v1 hierarchies for a process that joins a container (exec): which of
// the leader's v1 cgroups it must enter, as cgroup.procs files opened before it is forked.
#ifndef CORRAL_RUNTIME_CGROUP_V1_JOINS_H_
#define CORRAL_RUNTIME_CGROUP_V1_JOINS_H_

#include <sys/types.h>

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace corral::runtime {

// The most v1 hierarchies a joining process enters.
inline constexpr size_t kMaxV1Joins = 16;

// The cgroup.procs files to write for joining the leader `pid` in each cgroup v1 hierarchy that
// accounts for or limits it (memory, pids, CPU, I/O, devices; never freezer) where it sits
// elsewhere than we do: opened for writing, O_CLOEXEC. Empty on a pure cgroup2
// host.
absl::StatusOr<std::vector<UniqueFd>> OpenV1CgroupJoins(pid_t pid);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CGROUP_V1_JOINS_H_
