// Creating a process in new namespaces with a pidfd, with the fallback ladder for older
// kernels: clone3 (5.3), then clone with CLONE_PIDFD (5.2), then clone + pidfd_open (5.3 too,
// for kernels with clone3 compiled out or filtered by a seccomp policy around us).
#ifndef CORRAL_RUNTIME_CLONE_H_
#define CORRAL_RUNTIME_CLONE_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace corral::runtime {

struct CloneResult {
  pid_t pid = -1;  // 0 in the child
  UniqueFd pidfd;  // parent only
};

// Forks with `flags` (CLONE_NEW*), SIGCHLD as exit signal. `cgroup_fd` >= 0 puts the child
// straight into that cgroup2 directory (CLONE_INTO_CGROUP, clone3 only).
absl::StatusOr<CloneResult> CloneWithPidfd(uint64_t flags, int cgroup_fd = -1);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CLONE_H_
