#include "runtime/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/child_error.h"
#include "runtime/clone.h"
#include "runtime/exec.h"
#include "runtime/spec.h"

namespace corral::runtime {

namespace {

// True when the process behind `pidfd` is in a different user namespace than we are.
absl::StatusOr<bool> InOtherUserNamespace(int container_pidfd) {
  struct stat ours, theirs;
  if (::stat("/proc/self/ns/user", &ours) != 0) return ErrnoError("stat /proc/self/ns/user");
  // The pidfd's pid in our namespace, from its fdinfo, to look at /proc/PID/ns/user.
  std::string fdinfo = absl::StrCat("/proc/self/fdinfo/", container_pidfd);
  FILE* f = ::fopen(fdinfo.c_str(), "re");
  if (f == nullptr) return ErrnoError(absl::StrCat("open ", fdinfo));
  char line[256];
  long pid = -1;
  while (::fgets(line, sizeof(line), f) != nullptr) {
    if (::sscanf(line, "Pid: %ld", &pid) == 1) break;
  }
  ::fclose(f);
  if (pid <= 0) return absl::NotFoundError("the container is not running (its pidfd has no live process)");
  std::string ns = absl::StrCat("/proc/", pid, "/ns/user");
  if (::stat(ns.c_str(), &theirs) != 0) return ErrnoError(absl::StrCat("stat ", ns));
  return ours.st_ino != theirs.st_ino || ours.st_dev != theirs.st_dev;
}

struct AttachChildPlan {
  int container_pidfd;
  int setns_flags;
  int stdio[3];
  bool controlling_tty;
  int error_fd;
  ExecPlan exec;
};

[[noreturn]] void AttachChildMain(const AttachChildPlan& plan) {
  // One atomic setns for every namespace (Linux 5.8): no window where we are half inside.
  // Our PID namespace was chosen by the parent before it cloned us.
  if (::setns(plan.container_pidfd, plan.setns_flags) != 0) {
    ReportChildError(plan.error_fd, "setns into the container", "", errno);
    ::_exit(125);
  }
  // In the container's user namespace we are still the host's root, unmapped there (and would
  // lose every capability at exec): become the namespace's root, and drop the manager's
  // supplementary groups, which mean nothing inside.
  if ((plan.setns_flags & CLONE_NEWUSER) &&
      (::setgroups(0, nullptr) != 0 || ::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)) {
    ReportChildError(plan.error_fd, "become root of the container's user namespace", "", errno);
    ::_exit(125);
  }
  for (int target = 0; target < 3; ++target) {
    if (plan.stdio[target] >= 0 && plan.stdio[target] != target && ::dup2(plan.stdio[target], target) < 0) {
      ReportChildError(plan.error_fd, "dup2 stdio", "", errno);
      ::_exit(125);
    }
  }
  if (plan.controlling_tty) {
    ::setsid();
    if (::ioctl(0, TIOCSCTTY, 0) != 0) {
      ReportChildError(plan.error_fd, "make the terminal our controlling terminal", "", errno);
      ::_exit(125);
    }
  }
  ExecInChild(plan.exec, plan.error_fd);
  ::_exit(127);
}

}  // namespace

absl::StatusOr<AttachedProcess> Attach(int container_pidfd, const AttachSpec& spec) {
  if (spec.command.empty()) return absl::InvalidArgumentError("attach: no command given");
  for (const std::string& kv : spec.env) {
    if (kv.find('=') == std::string::npos || kv[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat("attach: environment entry \"", kv, "\" is not KEY=VALUE"));
    }
  }
  if (spec.cwd.empty() || spec.cwd[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("attach: working directory \"", spec.cwd, "\" is not absolute"));
  }
  ASSIGN_OR_RETURN(bool other_userns, InOtherUserNamespace(container_pidfd));

  const SeccompProgram* seccomp = nullptr;
  if (spec.seccomp) seccomp = spec.seccomp_program != nullptr ? spec.seccomp_program : &DefaultSeccompProgram();
  ExecOptions exec_options;
  exec_options.command = spec.command;
  exec_options.env = spec.env;
  exec_options.cwd = spec.cwd;
  exec_options.uid = spec.uid;
  exec_options.gid = spec.gid;
  exec_options.tty = spec.controlling_tty;
  exec_options.capabilities = spec.capabilities ? *spec.capabilities : DefaultCapabilities();
  exec_options.no_new_privs = spec.no_new_privs;
  exec_options.seccomp = seccomp;

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError("pipe for the attach report");
  UniqueFd report_read(pipe_fds[0]);
  UniqueFd report_write(pipe_fds[1]);

  AttachChildPlan plan{container_pidfd,
                       CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP |
                           (other_userns ? CLONE_NEWUSER : 0),
                       {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd},
                       spec.controlling_tty,
                       report_write.get(),
                       MakeExecPlan(exec_options)};

  // Children of this thread are born in the container's PID namespace; one fork instead of
  // nsenter's two. Only this thread's pid_for_children changes, and it is restored below.
  UniqueFd own_pid_ns(::open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC));
  if (!own_pid_ns) return ErrnoError("open /proc/thread-self/ns/pid");
  if (::setns(container_pidfd, CLONE_NEWPID) != 0) return ErrnoError("setns into the container's PID namespace");
  absl::StatusOr<CloneResult> cloned = CloneWithPidfd(0, spec.cgroup_fd);
  if (cloned.ok() && cloned->pid == 0) AttachChildMain(plan);
  if (::setns(own_pid_ns.get(), CLONE_NEWPID) != 0) {
    // We cannot go on forking in the wrong namespace; this is not expected to happen.
    absl::Status restore = ErrnoError("restore our PID namespace after attach");
    if (cloned.ok()) {
      sys::PidfdSendSignal(cloned->pidfd.get(), SIGKILL, nullptr, 0);
      ::waitpid(cloned->pid, nullptr, 0);
    }
    return restore;
  }
  if (!cloned.ok()) return Annotate(cloned.status(), "fork into the container");
  report_write.reset();

  AttachedProcess process{cloned->pid, std::move(cloned->pidfd)};
  ChildError record;
  ssize_t got;
  do {
    got = ::read(report_read.get(), &record, sizeof(record));
  } while (got < 0 && errno == EINTR);
  if (got == 0) return process;
  siginfo_t info;
  ::waitid(P_PIDFD, process.pidfd.get(), &info, WEXITED);
  if (got != sizeof(record)) return absl::InternalError("truncated report from the attached process");
  absl::Status status = ChildErrorToStatus(record);
  return IsExecFailure(status) ? status : Annotate(status, "attach");
}

absl::StatusOr<int> WaitAttached(AttachedProcess& process) {
  siginfo_t info = {};
  while (::waitid(P_PIDFD, process.pidfd.get(), &info, WEXITED) != 0) {
    if (errno != EINTR) return ErrnoError(absl::StrCat("waitid attached pid ", process.pid));
  }
  process.pidfd.reset();
  if (info.si_code == CLD_EXITED) return info.si_status;
  return 128 + info.si_status;
}

}  // namespace corral::runtime
