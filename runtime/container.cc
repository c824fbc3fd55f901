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
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/bind_stage.h"
#include "runtime/binds.h"
#include "runtime/child_error.h"
#include "runtime/child_sync.h"
#include "runtime/clone.h"
#include "runtime/console.h"
#include "runtime/exec.h"
#include "runtime/id_map_step.h"
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

// Each of the child's setup stages below reports its own failure on `fd` and returns false;
// ChildMain then exits 125. None allocates.

// Waits for the parent's go (id maps written, cgroup placement done, network wired) and takes
// the fds that came with it.
bool AwaitGoInChild(const ChildPlan& plan, int fd, GoFds* go) {
  ::close(plan.parent_sync_fd);
  // No container without its manager (the supervisor, corral-run): killed with it, from
  // before the start handshake on. A manager that died before this is seen by the recvmsg
  // below (EOF: every copy of its end is closed).
  if (int err = BindDeathSignalInChild(SIGKILL, fd); err != 0) {
    ReportChildError(fd, "prctl(PR_SET_PDEATHSIG)", "", err);
    return false;
  }
  if (ReceiveGoInChild(fd, go) != 0) ::_exit(125);  // the parent gave up on us
  if (plan.expect_rootfs_tree && (*go)[GoFd::kRootfsTree] < 0) {
    ReportChildError(fd, "receive the idmapped rootfs", "", EBADF);
    return false;
  }
  return true;
}

// Root of the user namespace, the network namespace joined, the cgroup namespace, hostname.
bool EnterNamespacesInChild(const ChildPlan& plan, int fd) {
  const ContainerSpec& spec = *plan.spec;
  // In a new user namespace we start as the unmapped host root; become the namespace's root
  // (mapped to spec.uid_map's host range) so files we create have a valid owner.
  if ((spec.namespaces & CLONE_NEWUSER) && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)) {
    ReportChildError(fd, "become root of the user namespace", "", errno);
    return false;
  }
  // Becoming the namespace's root changed the euid (host root to the range's base), which
  // cleared the death signal: bound again, checked against the manager again.
  if (spec.namespaces & CLONE_NEWUSER) {
    if (int err = BindDeathSignalInChild(SIGKILL, fd); err != 0) {
      ReportChildError(fd, "prctl(PR_SET_PDEATHSIG)", "", err);
      return false;
    }
  }
  if (spec.join_netns_fd >= 0 && ::setns(spec.join_netns_fd, CLONE_NEWNET) != 0) {
    ReportChildError(fd, "join network namespace", "", errno);
    return false;
  }
  // Unshared only now, after the parent has placed us in our cgroup, so that cgroup is the
  // root the container sees.
  if ((spec.namespaces & CLONE_NEWCGROUP) && ::unshare(CLONE_NEWCGROUP) != 0) {
    ReportChildError(fd, "unshare cgroup namespace", "", errno);
    return false;
  }
  if ((spec.namespaces & CLONE_NEWUTS) &&
      ::sethostname(plan.hostname.data(), plan.hostname.size()) != 0) {
    ReportChildError(fd, "sethostname", plan.hostname.c_str(), errno);
    return false;
  }
  return true;
}

// Our own session, the console as controlling terminal and stdio, or the given stdio.
bool SetUpStdioInChild(const ChildPlan& plan, int fd) {
  // Our own session: a terminal's Ctrl-C goes to the manager, which forwards it, rather than
  // straight into the container as well.
  ::setsid();
  if (plan.console_fd >= 0) {
    if (::ioctl(plan.console_fd, TIOCSCTTY, 0) != 0) {
      ReportChildError(fd, "make the console our controlling terminal", "", errno);
      return false;
    }
    for (int target = 0; target < 3; ++target) {
      int source = target > 0 && plan.console_output >= 0 ? plan.console_output : plan.console_fd;
      if (::dup2(source, target) < 0) {
        ReportChildError(fd, "dup2 console", "", errno);
        return false;
      }
    }
  }
  for (int target = 0; target < 3 && plan.console_fd < 0; ++target) {
    if (plan.stdio[target] >= 0 && plan.stdio[target] != target && ::dup2(plan.stdio[target], target) < 0) {
      ReportChildError(fd, "dup2 stdio", "", errno);
      return false;
    }
  }
  return true;
}

// The bind stage held open, the idmapped tree over the rootfs directory, then the rootfs.
bool SetUpRootfsStageInChild(const ChildPlan& plan, int fd, int rootfs_tree) {
  // The bind stage lies over the rootfs path until the rootfs covers it: held open first.
  int stage_fd = -1;
  if (plan.rootfs.staged) {
    stage_fd = ::open(plan.rootfs.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (stage_fd < 0) {
      ReportChildError(fd, "open the bind stage", plan.rootfs.rootfs.c_str(), errno);
      return false;
    }
  }
  if (rootfs_tree >= 0) {
    // The idmapped tree goes over the rootfs directory in our own mount namespace only (made
    // private first: nothing propagates back to the host); SetUpRootfsInChild then binds the
    // top mount, which is this one.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ReportChildError(fd, "make mounts private", "/", errno);
      return false;
    }
    if (::move_mount(rootfs_tree, "", AT_FDCWD, plan.rootfs.rootfs.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      ReportChildError(fd, "attach the idmapped rootfs (move_mount)", plan.rootfs.rootfs.c_str(), errno);
      return false;
    }
    ::close(rootfs_tree);
  }
  return SetUpRootfsInChild(plan.rootfs, fd, stage_fd);
}

[[noreturn]] void ChildMain(const ChildPlan& plan) {
  const int fd = plan.sync_fd;
  GoFds go;
  if (!AwaitGoInChild(plan, fd, &go) || !EnterNamespacesInChild(plan, fd) || !SetUpStdioInChild(plan, fd) ||
      !SetUpRootfsStageInChild(plan, fd, go[GoFd::kRootfsTree])) {
    ::_exit(125);
  }
  if (plan.spec->init == InitMode::kTinyInit) RunTinyInit(plan.exec, fd);
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

std::vector<std::string> CommandFor(const ContainerSpec& spec) {
  if (spec.init == InitMode::kBoot && spec.command.empty()) return {"/sbin/init"};
  return spec.command;
}

// In a user namespace the child resolves the rootfs path as the container's root, which has no
// power over host-owned directories: a 0700 parent would stop it with a bare EACCES.
absl::Status CheckRootfsReachable(const ContainerSpec& spec, std::pair<uid_t, gid_t> host_root) {
  if ((spec.namespaces & CLONE_NEWUSER) == 0 || host_root.first == static_cast<uid_t>(-1)) return absl::OkStatus();
  return Annotate(CheckSearchableBy(spec.rootfs, host_root.first, host_root.second), "spec.rootfs");
}

absl::StatusOr<std::optional<Pty>> OpenConsole(const ContainerSpec& spec, std::pair<uid_t, gid_t> host_root) {
  std::optional<Pty> pty;
  if (!spec.tty) return pty;
  ASSIGN_OR_RETURN(pty, OpenPty());
  // /dev/console is a bind of this slave: the container's root must own it to open it.
  if ((spec.namespaces & CLONE_NEWUSER) && host_root.first != static_cast<uid_t>(-1) &&
      ::fchown(pty->slave.get(), host_root.first, host_root.second) != 0) {
    return ErrnoError(absl::StrCat("chown the console ", pty->slave_path, " to the container's root"));
  }
  return pty;
}

// The user's binds: checked and cloned here, on the host, before the child exists; it
// inherits the detached trees and only attaches them (their fds close at its exec).
absl::StatusOr<std::vector<BindTree>> OpenBindTrees(const ContainerSpec& spec, RootfsPlan& rootfs) {
  std::vector<BindTree> bind_trees;
  const bool userns = (spec.namespaces & CLONE_NEWUSER) != 0;
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
  for (RootfsStep& step : rootfs.steps) {
    if (step.kind != RootfsStep::Kind::kBindTree) continue;
    const BindTree& tree = bind_trees[static_cast<size_t>(step.bind_index)];
    step.tree_fd = tree.tree.get();
    step.target_is_file = tree.is_file;
    // In a user namespace the trees are staged (runtime/bind_stage.h) so the kernel locks
    // their flags: the child clones them from the stage.
    if (userns) step.stage_name = BindStage::EntryName(static_cast<size_t>(step.bind_index));
  }
  if (userns) {
    rootfs.staged = true;
    if (!spec.idmap_rootfs) rootfs.staged_rootfs = BindStage::StagedRootfs(spec.rootfs);
  }
  return bind_trees;
}

ExecPlan ExecPlanFor(const ContainerSpec& spec) {
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
  ExecPlan plan = MakeExecPlan(exec_options);
  plan.death_signal = SIGKILL;  // kept through DropPrivilegesInChild's credential changes
  return plan;
}

// Clones into `cgroup_fd` (>= 0) when the kernel lets us (CLONE_INTO_CGROUP, Linux 5.7), else
// an ordinary clone: the steps then move the child with a cgroup.procs write (crun's order).
absl::StatusOr<CloneResult> CloneChild(uint64_t flags, int cgroup_fd, bool* in_cgroup) {
  *in_cgroup = false;
  if (cgroup_fd >= 0) {
    absl::StatusOr<CloneResult> cloned = CloneWithPidfd(flags, cgroup_fd);
    if (cloned.ok()) {
      *in_cgroup = true;
      return cloned;
    }
  }
  return CloneWithPidfd(flags);
}

}  // namespace

absl::StatusOr<Container> Container::Start(const ContainerSpec& spec, const StartOptions& options) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  PhaseTimer* timer = options.timer;
  const bool userns = (spec.namespaces & CLONE_NEWUSER) != 0;
  const std::pair<uid_t, gid_t> host_root = HostRoot(spec);
  RETURN_IF_ERROR(CheckRootfsReachable(spec, host_root));
  ASSIGN_OR_RETURN(std::optional<Pty> pty, OpenConsole(spec, host_root));

  ChildPlan plan;
  plan.spec = &spec;
  plan.hostname = !spec.hostname.empty() ? spec.hostname : HostnameFromName(spec.name);
  plan.rootfs = MakeRootfsPlan(spec, pty ? pty->slave_path : "");
  std::vector<BindTree> bind_trees;
  if (!spec.binds.empty()) {
    ASSIGN_OR_RETURN(bind_trees, OpenBindTrees(spec, plan.rootfs));
    if (timer) timer->Mark(Phase::kBindTrees);
  }
  plan.exec = ExecPlanFor(spec);
  plan.console_fd = pty ? pty->slave.get() : -1;
  plan.console_output = options.console_output;
  plan.expect_rootfs_tree = userns && spec.idmap_rootfs;
  for (int i = 0; i < 3; ++i) plan.stdio[i] = options.stdio[i];
  ASSIGN_OR_RETURN(ChildSync sync, ChildSync::Open());
  plan.sync_fd = sync.child_end();
  plan.parent_sync_fd = sync.parent_end();
  int cgroup_fd = -1;
  if (options.steps != nullptr) RETURN_IF_ERROR(options.steps->CloneCgroupFd(&cgroup_fd));
  if (timer) timer->Mark(Phase::kPrepare);

  // The cgroup namespace is unshared by the child later (see EnterNamespacesInChild).
  uint64_t clone_flags = spec.namespaces & ~static_cast<uint64_t>(CLONE_NEWCGROUP);
  // The clone copies the staging namespace into the container's user namespace: that copy is
  // what locks the binds. We leave the stage right after.
  std::optional<BindStage> stage;
  if (plan.rootfs.staged) {
    ASSIGN_OR_RETURN(stage, BindStage::Enter(spec.rootfs, !spec.idmap_rootfs, bind_trees));
    if (timer) timer->Mark(Phase::kBindStage);
  }
  StartedChild child;
  ASSIGN_OR_RETURN(CloneResult cloned, CloneChild(clone_flags, cgroup_fd, &child.in_clone_cgroup));
  if (cloned.pid == 0) ChildMain(plan);
  if (timer) timer->Mark(Phase::kClone);
  sync.CloseChildEnd();

  Container container(cloned.pid, std::move(cloned.pidfd), pty ? std::move(pty->master) : UniqueFd());
  // From here on, an error return destroys `container`, which kills and reaps the child.
  if (stage) {
    RETURN_IF_ERROR(stage->Leave());
    stage.reset();
  }
  child.pid = container.pid_;
  child.pidfd = container.pidfd_.get();
  // The runtime's own steps first (the maps are what every later step sees), then the caller's.
  IdMapStep id_maps(spec);
  IdmappedRootfsStep idmapped_rootfs(spec);
  StartSteps own;
  if (userns) own.Add(&id_maps);
  if (userns && spec.idmap_rootfs) own.Add(&idmapped_rootfs);
  RETURN_IF_ERROR(own.InParent(child, timer));
  if (options.steps != nullptr) RETURN_IF_ERROR(options.steps->InParent(child, timer));
  GoFds go;
  go[GoFd::kRootfsTree] = idmapped_rootfs.tree().get();
  RETURN_IF_ERROR(sync.SendGo(go));
  idmapped_rootfs.tree().reset();

  bool failed = false;
  absl::Status status = sync.AwaitExec(&failed);
  if (timer) timer->Mark(Phase::kSetupAndExec);
  if (status.ok()) return container;
  if (!failed) return status;
  container.Wait().IgnoreError();  // reap it; the report says what went wrong
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
