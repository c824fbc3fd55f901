#include "runtime/clone.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/syscalls.h"

namespace corral::runtime {

absl::StatusOr<CloneResult> CloneWithPidfd(uint64_t flags, int cgroup_fd) {
  CloneResult result;
  int pidfd = -1;
  struct clone_args args = {};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  long rc = sys::Clone3(&args, sizeof(args));
  if (rc < 0 && errno == ENOSYS && cgroup_fd < 0) {
    // Linux < 5.3, or clone3 blocked by a seccomp policy (some container runtimes answer ENOSYS):
    // clone(2) with CLONE_PIDFD (5.2). x86_64 argument order: flags, stack, parent_tid, child_tid, tls.
    rc = ::syscall(SYS_clone, flags | CLONE_PIDFD | SIGCHLD, nullptr, &pidfd, nullptr, nullptr);
    if (rc < 0 && errno == EINVAL) {
      // No CLONE_PIDFD at all: plain clone, then pidfd_open. The pid cannot be recycled before
      // we open it because it is our unreaped child.
      rc = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
      if (rc > 0) pidfd = sys::PidfdOpen(static_cast<pid_t>(rc), 0);
    }
  }
  if (rc < 0) {
    return ErrnoError(absl::StrCat("clone3 with flags 0x", absl::Hex(args.flags)));
  }
  result.pid = static_cast<pid_t>(rc);
  if (rc > 0) {
    if (pidfd < 0) {
      ::kill(result.pid, SIGKILL);
      return absl::UnimplementedError("no pidfd for the container: Linux 5.3 or newer is required");
    }
    result.pidfd.reset(pidfd);
  }
  return result;
}

}  // namespace corral::runtime
