#include "runtime/container.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fd_passing.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/bind_stage.h"
#include "runtime/binds.h"
#include "runtime/child_error.h"
#include "runtime/clone.h"
#include "runtime/console.h"
#include "runtime/exec.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"
#include "runtime/tiny_init.h"
#include "runtime/userns.h"

namespace corral::runtime {

namespace {

// Everything the child needs, prepared in the parent (the child must not allocate).
struct ChildPlan {
  const ContainerSpec* spec;
  std::string hostname;
  RootfsPlan rootfs;
  ExecPlan exec;
  int sync_fd = -1;      // child's end of the socketpair
  int parent_sync_fd = -1;  // the parent's end: closed in the child, so the parent's death shows
  bool expect_rootfs_tree = false;  // the go carries the idmapped rootfs (spec.idmap_rootfs)
  int console_fd = -1;   // pty slave, or -1
  int console_output = -1;  // StartOptions::console_output
  int stdio[3] = {-1, -1, -1};
};

[[noreturn]] void ChildMain(const ChildPlan& plan) {
  int fd = plan.sync_fd;
  ::close(plan.parent_sync_fd);
  // No container without its manager (the supervisor, corral-run): killed with it, from
  // before the start handshake on. A manager that died before this is seen by the recvmsg
  // below (EOF: every copy of its end is closed).
  if (int err = BindDeathSignalInChild(SIGKILL, fd); err != 0) {
    ReportChildError(fd, "prctl(PR_SET_PDEATHSIG)", "", err);
    ::_exit(125);
  }
  // Wait for the parent: id maps written, cgroup or scope placement done, network wired. The
  // go byte may carry the idmapped rootfs as a detached mount (SCM_RIGHTS).
  char go = 0;
  int rootfs_tree = -1;
  {
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&go, 1};
    struct msghdr message = {};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t got;
    do {
      got = ::recvmsg(fd, &message, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got != 1) ::_exit(125);  // the parent gave up on us
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
    if (cmsg != nullptr && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      __builtin_memcpy(&rootfs_tree, CMSG_DATA(cmsg), sizeof(int));
    }
  }
  if (plan.expect_rootfs_tree && rootfs_tree < 0) {
    ReportChildError(fd, "receive the idmapped rootfs", "", EBADF);
    ::_exit(125);
  }

  const ContainerSpec& spec = *plan.spec;
  // In a new user namespace we start as the unmapped host root; become the namespace's root
  // (mapped to spec.uid_map's host range) so files we create have a valid owner.
  if ((spec.namespaces & CLONE_NEWUSER) && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)) {
    ReportChildError(fd, "become root of the user namespace", "", errno);
    ::_exit(125);
  }
  // Becoming the namespace's root changed the euid (host root to the range's base), which
  // cleared the death signal: bound again, checked against the manager again.
  if (spec.namespaces & CLONE_NEWUSER) {
    if (int err = BindDeathSignalInChild(SIGKILL, fd); err != 0) {
      ReportChildError(fd, "prctl(PR_SET_PDEATHSIG)", "", err);
      ::_exit(125);
    }
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
      int source = target > 0 && plan.console_output >= 0 ? plan.console_output : plan.console_fd;
      if (::dup2(source, target) < 0) {
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
  // The bind stage lies over the rootfs path until the rootfs covers it: held open first.
  int stage_fd = -1;
  if (plan.rootfs.staged) {
    stage_fd = ::open(plan.rootfs.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (stage_fd < 0) {
      ReportChildError(fd, "open the bind stage", plan.rootfs.rootfs.c_str(), errno);
      ::_exit(125);
    }
  }
  if (rootfs_tree >= 0) {
    // The idmapped tree goes over the rootfs directory in our own mount namespace only (made
    // private first: nothing propagates back to the host); SetUpRootfsInChild then binds the
    // top mount, which is this one.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ReportChildError(fd, "make mounts private", "/", errno);
      ::_exit(125);
    }
    if (::move_mount(rootfs_tree, "", AT_FDCWD, plan.rootfs.rootfs.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      ReportChildError(fd, "attach the idmapped rootfs (move_mount)", plan.rootfs.rootfs.c_str(), errno);
      ::_exit(125);
    }
    ::close(rootfs_tree);
  }
  if (!SetUpRootfsInChild(plan.rootfs, fd, stage_fd)) ::_exit(125);
  if (spec.init == InitMode::kTinyInit) RunTinyInit(plan.exec, fd);
  ExecInChild(plan.exec, fd);
  ::_exit(127);
}

// The host uid and gid of the container's root (the maps' lines for id 0), or -1.
std::pair<uid_t, gid_t> HostRoot(const ContainerSpec& spec) {
  std::pair<uid_t, gid_t> root{static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
  for (const IdMapping& m : spec.uid_map) {
    if (m.container_id == 0) root.first = m.host_id;
  }
  for (const IdMapping& m : spec.gid_map) {
    if (m.container_id == 0) root.second = m.host_id;
  }
  return root;
}

// Sends the go byte, with `tree` (>= 0) attached.
absl::Status SendGo(int socket, int tree) {
  char go = 1;
  if (int err = SendWithFd(socket, &go, 1, tree); err != 0) return ErrnoError(err, "signal the container to start");
  return absl::OkStatus();
}

std::vector<std::string> CommandFor(const ContainerSpec& spec) {
  if (spec.init == InitMode::kBoot && spec.command.empty()) return {"/sbin/init"};
  return spec.command;
}

}  // namespace

absl::StatusOr<Container> Container::Start(const ContainerSpec& spec, const StartOptions& options) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  PhaseTimer* timer = options.timer;

  const bool userns = (spec.namespaces & CLONE_NEWUSER) != 0;
  const std::pair<uid_t, gid_t> host_root = HostRoot(spec);
  if (userns && host_root.first != static_cast<uid_t>(-1)) {
    // The child resolves the rootfs path as the container's root, which has no power over
    // host-owned directories: a 0700 parent would stop it with a bare EACCES.
    RETURN_IF_ERROR(Annotate(CheckSearchableBy(spec.rootfs, host_root.first, host_root.second), "spec.rootfs"));
  }

  std::optional<Pty> pty;
  if (spec.tty) {
    ASSIGN_OR_RETURN(pty, OpenPty());
    // /dev/console is a bind of this slave: the container's root must own it to open it.
    if (userns && host_root.first != static_cast<uid_t>(-1) &&
        ::fchown(pty->slave.get(), host_root.first, host_root.second) != 0) {
      return ErrnoError(absl::StrCat("chown the console ", pty->slave_path, " to the container's root"));
    }
  }

  ChildPlan plan;
  plan.spec = &spec;
  plan.hostname = !spec.hostname.empty() ? spec.hostname : HostnameFromName(spec.name);
  plan.rootfs = MakeRootfsPlan(spec, pty ? pty->slave_path : "");
  // The user's binds: checked and cloned here, on the host, before the child exists; it
  // inherits the detached trees and only attaches them (their fds close at its exec).
  std::vector<BindTree> bind_trees;
  if (!spec.binds.empty()) {
    UniqueFd idmap_userns;
    for (const BindSpec& b : spec.binds) {
      if (b.idmap && userns && !idmap_userns.valid()) {
        ASSIGN_OR_RETURN(idmap_userns, MakeUserNamespace(spec.uid_map, spec.gid_map));
      }
    }
    for (const BindSpec& b : spec.binds) {
      ASSIGN_OR_RETURN(BindTree tree, OpenBindTree(b, userns ? idmap_userns.get() : -1));
      bind_trees.push_back(std::move(tree));
    }
    for (RootfsStep& step : plan.rootfs.steps) {
      if (step.kind != RootfsStep::Kind::kBindTree) continue;
      const BindTree& tree = bind_trees[static_cast<size_t>(step.bind_index)];
      step.tree_fd = tree.tree.get();
      step.target_is_file = tree.is_file;
      // In a user namespace the trees are staged (runtime/bind_stage.h) so the kernel locks
      // their flags: the child clones them from the stage.
      if (userns) step.stage_name = BindStage::EntryName(static_cast<size_t>(step.bind_index));
    }
    if (userns) {
      plan.rootfs.staged = true;
      if (!spec.idmap_rootfs) plan.rootfs.staged_rootfs = BindStage::StagedRootfs(spec.rootfs);
    }
    if (timer) timer->Mark("bind trees");
  }
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
  plan.exec.death_signal = SIGKILL;  // kept through DropPrivilegesInChild's credential changes
  plan.console_fd = pty ? pty->slave.get() : -1;
  plan.console_output = options.console_output;
  plan.expect_rootfs_tree = userns && spec.idmap_rootfs;
  for (int i = 0; i < 3; ++i) plan.stdio[i] = options.stdio[i];

  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0) {
    return ErrnoError("socketpair for the container start");
  }
  UniqueFd parent_end(sync[0]);
  UniqueFd child_end(sync[1]);
  plan.sync_fd = child_end.get();
  plan.parent_sync_fd = parent_end.get();
  if (timer) timer->Mark("prepare");

  // The cgroup namespace is unshared by the child later (see ChildMain).
  uint64_t clone_flags = spec.namespaces & ~static_cast<uint64_t>(CLONE_NEWCGROUP);
  // The clone copies the staging namespace into the container's user namespace: that copy is
  // what locks the binds. We leave the stage right after.
  std::optional<BindStage> stage;
  if (plan.rootfs.staged) {
    ASSIGN_OR_RETURN(stage, BindStage::Enter(spec.rootfs, !spec.idmap_rootfs, bind_trees));
    if (timer) timer->Mark("bind stage");
  }
  ASSIGN_OR_RETURN(CloneResult cloned, CloneWithPidfd(clone_flags));
  if (cloned.pid == 0) ChildMain(plan);
  if (timer) timer->Mark("clone");
  child_end.reset();

  Container container(cloned.pid, std::move(cloned.pidfd), pty ? std::move(pty->master) : UniqueFd());
  // From here on, an error return destroys `container`, which kills and reaps the child.
  if (stage) {
    RETURN_IF_ERROR(stage->Leave());
    stage.reset();
  }
  UniqueFd rootfs_tree;
  if (userns) {
    RETURN_IF_ERROR(Annotate(WriteIdMaps(container.pid_, spec.uid_map, spec.gid_map), "write id maps"));
    if (timer) timer->Mark("id maps");
    if (spec.idmap_rootfs) {
      // The child's own user namespace carries the map: no helper process needed.
      UniqueFd userns_fd(::open(absl::StrCat("/proc/", container.pid_, "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
      if (!userns_fd.valid()) return ErrnoError("open the container's user namespace");
      ASSIGN_OR_RETURN(rootfs_tree, OpenIdmappedTree(spec.rootfs, userns_fd.get(), /*read_only=*/false));
      if (timer) timer->Mark("idmapped rootfs");
    }
  }
  if (options.before_setup) {
    RETURN_IF_ERROR(options.before_setup(container.pid_, container.pidfd_.get()));
  }
  RETURN_IF_ERROR(SendGo(parent_end.get(), rootfs_tree.get()));
  rootfs_tree.reset();

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

}  // namespace corral::runtime
