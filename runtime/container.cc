#include "runtime/container.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/child_error.h"
#include "runtime/clone.h"
#include "runtime/console.h"
#include "runtime/exec.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"
#include "runtime/tiny_init.h"

namespace corral::runtime {

namespace {

// Everything the child needs, prepared in the parent (the child must not allocate).
struct ChildPlan {
  const ContainerSpec* spec;
  std::string hostname;
  RootfsPlan rootfs;
  ExecPlan exec;
  int sync_fd = -1;      // child's end of the socketpair
  int console_fd = -1;   // pty slave, or -1
  int stdio[3] = {-1, -1, -1};
};

[[noreturn]] void ChildMain(const ChildPlan& plan) {
  int fd = plan.sync_fd;
  // Wait for the parent: id maps written, cgroup or scope placement done, network wired.
  char go = 0;
  ssize_t got;
  do {
    got = ::read(fd, &go, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) ::_exit(125);  // the parent gave up on us

  const ContainerSpec& spec = *plan.spec;
  // In a new user namespace we start as the unmapped host root; become the namespace's root
  // (mapped to spec.uid_map's host range) so files we create have a valid owner.
  if ((spec.namespaces & CLONE_NEWUSER) && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)) {
    ReportChildError(fd, "become root of the user namespace", "", errno);
    ::_exit(125);
  }
  if (spec.join_netns_fd >= 0 && ::setns(spec.join_netns_fd, CLONE_NEWNET) != 0) {
    ReportChildError(fd, "join network namespace", "", errno);
    ::_exit(125);
  }
  // Unshared only now, after the parent has placed us in our cgroup, so that cgroup is the
  // root the container sees.
  if ((spec.namespaces & CLONE_NEWCGROUP) && ::unshare(CLONE_NEWCGROUP) != 0) {
    ReportChildError(fd, "unshare cgroup namespace", "", errno);
    ::_exit(125);
  }
  if ((spec.namespaces & CLONE_NEWUTS) &&
      ::sethostname(plan.hostname.data(), plan.hostname.size()) != 0) {
    ReportChildError(fd, "sethostname", plan.hostname.c_str(), errno);
    ::_exit(125);
  }
  // Our own session: a terminal's Ctrl-C goes to the manager, which forwards it, rather than
  // straight into the container as well.
  ::setsid();
  if (plan.console_fd >= 0) {
    if (::ioctl(plan.console_fd, TIOCSCTTY, 0) != 0) {
      ReportChildError(fd, "make the console our controlling terminal", "", errno);
      ::_exit(125);
    }
    for (int target = 0; target < 3; ++target) {
      if (::dup2(plan.console_fd, target) < 0) {
        ReportChildError(fd, "dup2 console", "", errno);
        ::_exit(125);
      }
    }
  }
  for (int target = 0; target < 3 && plan.console_fd < 0; ++target) {
    if (plan.stdio[target] >= 0 && plan.stdio[target] != target && ::dup2(plan.stdio[target], target) < 0) {
      ReportChildError(fd, "dup2 stdio", "", errno);
      ::_exit(125);
    }
  }
  if (!SetUpRootfsInChild(plan.rootfs, fd)) ::_exit(125);
  if (spec.init == InitMode::kTinyInit) RunTinyInit(plan.exec, fd);
  ExecInChild(plan.exec, fd);
  ::_exit(127);
}

absl::Status WriteIdMaps(pid_t pid, const ContainerSpec& spec) {
  auto render = [](const std::vector<IdMapping>& map) {
    std::string out;
    for (const IdMapping& m : map) absl::StrAppend(&out, m.container_id, " ", m.host_id, " ", m.count, "\n");
    return out;
  };
  RETURN_IF_ERROR(WriteExistingFile(absl::StrCat("/proc/", pid, "/uid_map"), render(spec.uid_map)));
  return WriteExistingFile(absl::StrCat("/proc/", pid, "/gid_map"), render(spec.gid_map));
}

std::vector<std::string> CommandFor(const ContainerSpec& spec) {
  if (spec.init == InitMode::kBoot && spec.command.empty()) return {"/sbin/init"};
  return spec.command;
}

}  // namespace

absl::StatusOr<Container> Container::Start(const ContainerSpec& spec, const StartOptions& options) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  PhaseTimer* timer = options.timer;

  std::optional<Pty> pty;
  if (spec.tty) {
    ASSIGN_OR_RETURN(pty, OpenPty());
  }

  ChildPlan plan;
  plan.spec = &spec;
  plan.hostname = !spec.hostname.empty() ? spec.hostname : !spec.name.empty() ? spec.name : "corral";
  plan.rootfs = MakeRootfsPlan(spec, pty ? pty->slave_path : "");
  ExecOptions exec_options;
  exec_options.command = CommandFor(spec);
  exec_options.env = spec.env;
  exec_options.cwd = spec.cwd;
  exec_options.uid = spec.uid;
  exec_options.gid = spec.gid;
  exec_options.tty = spec.tty;
  exec_options.capabilities = spec.capabilities ? *spec.capabilities : DefaultCapabilities();
  exec_options.no_new_privs = spec.no_new_privs;
  exec_options.seccomp = spec.seccomp ? &SeccompProgramFor(exec_options.capabilities) : nullptr;
  plan.exec = MakeExecPlan(exec_options);
  plan.console_fd = pty ? pty->slave.get() : -1;
  for (int i = 0; i < 3; ++i) plan.stdio[i] = options.stdio[i];

  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0) {
    return ErrnoError("socketpair for the container start");
  }
  UniqueFd parent_end(sync[0]);
  UniqueFd child_end(sync[1]);
  plan.sync_fd = child_end.get();
  if (timer) timer->Mark("prepare");

  // The cgroup namespace is unshared by the child later (see ChildMain).
  uint64_t clone_flags = spec.namespaces & ~static_cast<uint64_t>(CLONE_NEWCGROUP);
  ASSIGN_OR_RETURN(CloneResult cloned, CloneWithPidfd(clone_flags));
  if (cloned.pid == 0) ChildMain(plan);
  if (timer) timer->Mark("clone");
  child_end.reset();

  Container container(cloned.pid, std::move(cloned.pidfd), pty ? std::move(pty->master) : UniqueFd());
  // From here on, an error return destroys `container`, which kills and reaps the child.
  if (spec.namespaces & CLONE_NEWUSER) RETURN_IF_ERROR(Annotate(WriteIdMaps(container.pid_, spec), "write id maps"));
  if (options.before_setup) {
    RETURN_IF_ERROR(options.before_setup(container.pid_, container.pidfd_.get()));
  }
  char go = 1;
  if (::write(parent_end.get(), &go, 1) != 1) return ErrnoError("signal the container to start");

  ChildError record;
  ssize_t got;
  do {
    got = ::read(parent_end.get(), &record, sizeof(record));
  } while (got < 0 && errno == EINTR);
  if (timer) timer->Mark("setup and exec");
  if (got < 0) return ErrnoError("read the container's start report");
  if (got == 0) return container;  // every copy of the child's end closed by execve: started
  if (got != sizeof(record)) return absl::InternalError("truncated start report from the container");
  container.Wait().IgnoreError();  // reap it; the report says what went wrong
  absl::Status status = ChildErrorToStatus(record);
  if (IsExecFailure(status)) return status;
  return Annotate(status, "start container");
}

Container::~Container() {
  if (pid_ > 0 && !reaped_ && pidfd_) {
    sys::PidfdSendSignal(pidfd_.get(), SIGKILL, nullptr, 0);
    siginfo_t info;
    while (::waitid(P_PIDFD, pidfd_.get(), &info, WEXITED) != 0 && errno == EINTR) {
    }
  }
}

absl::Status Container::Signal(int signal) {
  if (sys::PidfdSendSignal(pidfd_.get(), signal, nullptr, 0) != 0) {
    return ErrnoError(absl::StrCat("pidfd_send_signal ", signal, " to container pid ", pid_));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Container::Wait() {
  if (reaped_) return absl::FailedPreconditionError("container already reaped");
  siginfo_t info = {};
  while (::waitid(P_PIDFD, pidfd_.get(), &info, WEXITED) != 0) {
    if (errno != EINTR) return ErrnoError(absl::StrCat("waitid container pid ", pid_));
  }
  reaped_ = true;
  if (info.si_code == CLD_EXITED) return info.si_status;
  return 128 + info.si_status;
}

void Container::Release() {
  reaped_ = true;
  pidfd_.reset();
}

}  // namespace corral::runtime
