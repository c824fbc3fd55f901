#include "runtime/oci/launch.h"


#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/fd_passing.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/capabilities.h"
#include "runtime/child_error.h"
#include "runtime/clone.h"
#include "runtime/console.h"
#include "runtime/devices.h"
#include "runtime/exec.h"
#include "runtime/oci/init.h"
#include "runtime/oci/seccomp_cache.h"
#include "runtime/userns.h"


namespace corral::runtime::oci {

namespace {

// clone3 with CLONE_PARENT: the init's parent is ours, which reaps it. The kernel takes the
// exit signal from our own (clone3 insists on exit_signal 0 with CLONE_PARENT).
absl::StatusOr<CloneResult> CloneParent(uint64_t flags) {
  int pidfd = -1;
  struct clone_args args = {};
  args.flags = flags | CLONE_PIDFD | CLONE_PARENT;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = 0;
  long rc = sys::Clone3(&args, sizeof(args));
  if (rc < 0) return ErrnoError(absl::StrCat("clone3 (CLONE_PARENT) with flags 0x", absl::Hex(args.flags)));
  CloneResult result;
  result.pid = static_cast<pid_t>(rc);
  if (rc > 0) result.pidfd.reset(pidfd);
  return result;
}

absl::Status SendConsole(const std::string& socket_path, int master) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return ErrnoError("socket for --console-socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) return absl::InvalidArgumentError("--console-socket: path too long");
  __builtin_memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoError(absl::StrCat("connect --console-socket ", socket_path));
  }
  const char name[] = "/dev/ptmx";
  if (int err = SendWithFd(sock.get(), name, sizeof(name) - 1, master); err != 0) {
    return ErrnoError(err, "send the console to --console-socket");
  }
  return absl::OkStatus();
}

// Joined namespaces: fds now, setns in the init (user first: it grants the rest). Sets the
// clone flags and what the init unshares after joining a user namespace.
absl::Status OpenJoinedNamespaces(const Config& config, InitPlan& plan, std::vector<UniqueFd>& join_fds,
                                  UniqueFd& join_pid, uint64_t& clone_flags) {
  const Namespace* user = config.FindNamespace(CLONE_NEWUSER);
  bool join_user = user != nullptr && !user->path.empty();
  for (int pass = 0; pass < 2; ++pass) {
    for (const Namespace& ns : config.namespaces) {
      if (ns.path.empty() || (pass == 0) != (ns.flag == CLONE_NEWUSER)) continue;
      UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return ErrnoError(absl::StrCat("linux.namespaces: open ", ns.type, " namespace ", ns.path));
      if (ns.flag == CLONE_NEWPID) {
        join_pid = std::move(fd);
        continue;
      }
      plan.joins.push_back({fd.get(), ns.flag});
      join_fds.push_back(std::move(fd));
    }
  }
  uint64_t new_flags = config.NewNamespaces() & ~static_cast<uint64_t>(CLONE_NEWCGROUP);
  clone_flags = new_flags;
  if (join_user) {
    // Namespaces made after joining the user namespace are owned by it.
    clone_flags = new_flags & CLONE_NEWPID;
    plan.unshare_after_join = new_flags & ~static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWUSER);
  }
  return absl::OkStatus();
}

// The command: the process's env exactly, with HOME added when missing (as runc does).
void PlanCommand(const Config& config, InitPlan& plan) {
  ExecOptions exec;
  exec.command = config.process.args;
  exec.cwd = config.process.cwd;
  plan.exec = MakeExecPlan(exec);
  plan.exec.env_storage = config.process.env;
  bool has_home = false, has_path = false;
  for (const std::string& kv : config.process.env) {
    has_home |= absl::StartsWith(kv, "HOME=");
    if (absl::StartsWith(kv, "PATH=")) {
      has_path = true;
      plan.exec.path_dirs.clear();
      for (absl::string_view dir : absl::StrSplit(kv.substr(5), ':', absl::SkipEmpty())) plan.exec.path_dirs.emplace_back(dir);
    }
  }
  if (!has_home) plan.exec.env_storage.push_back(config.process.uid == 0 ? "HOME=/root" : "HOME=/");
  (void)has_path;  // without PATH, the default search path stays (MakeExecPlan's)
  plan.exec.envp.clear();
  for (std::string& kv : plan.exec.env_storage) plan.exec.envp.push_back(kv.data());
  plan.exec.envp.push_back(nullptr);
}

// sysctls, device nodes, rlimits, oom_score_adj, credentials, capabilities, seccomp, root.
absl::Status PlanProcess(const Config& config, const LaunchOptions& options, InitPlan& plan) {
  for (const auto& [key, value] : config.sysctl) {
    plan.sysctls.push_back({"/proc/sys/" + absl::StrReplaceAll(key, {{".", "/"}}), value});
  }
  if (DevicesByMknod(config)) {
    for (const Device& d : config.devices) {
      mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
      plan.nodes.push_back({d.path, type | (d.file_mode.value_or(0666) & 07777),
                            d.type == 'p' ? 0 : makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor)),
                            d.uid.value_or(0), d.gid.value_or(0)});
    }
  }
  plan.rlimits = config.process.rlimits;
  if (config.process.oom_score_adj) {
    std::string text = absl::StrCat(*config.process.oom_score_adj);
    CopyBounded(plan.oom_score_adj, sizeof(plan.oom_score_adj), text.c_str());
    plan.has_oom = true;
  }
  plan.has_umask = config.process.umask.has_value();
  plan.umask = config.process.umask.value_or(022);
  plan.uid = config.process.uid;
  plan.gid = config.process.gid;
  plan.groups = config.process.additional_gids;
  if (config.process.capabilities) plan.caps = *config.process.capabilities;
  plan.last_cap = MakeCapabilityPlan({}).last_cap;
  plan.no_new_privs = config.process.no_new_privileges;
  if (config.seccomp) {
    ASSIGN_OR_RETURN(plan.seccomp, CachedOciSeccomp(*config.seccomp, options.seccomp_cache_dir));
  }
  plan.root_readonly = config.root_readonly;
  if (!config.rootfs_propagation.empty()) {
    static const std::pair<const char*, unsigned long> kProps[] = {
        {"private", MS_PRIVATE}, {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
        {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE}, {"rslave", MS_SLAVE | MS_REC},
        {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};
    for (const auto& [name, flag] : kProps) {
      if (config.rootfs_propagation == name) plan.rootfs_propagation = flag;
    }
  }
  PlanCommand(config, plan);
  plan.exec_fifo = options.exec_fifo;
  plan.preserve_fds = options.preserve_fds;
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const std::string& text) {
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("write");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// The createContainer and startContainer hooks for the init, and the memfd their state goes
// into (invalid when there are none).
absl::StatusOr<UniqueFd> PlanContainerHooks(const Config& config, const LaunchOptions& options, InitPlan& plan) {
  if (config.hooks.create_container.empty() && config.hooks.start_container.empty()) return UniqueFd();
  if (!options.container_hook_state) return absl::InvalidArgumentError("container hooks without a state for them");
  auto add = [](const std::vector<Hook>& from, std::vector<ChildHook>& to) {
    for (const Hook& h : from) to.push_back({h.path, h.args, h.env, {}, {}, h.timeout.value_or(0)});
    for (ChildHook& h : to) SealHook(h);  // the vector is final: the pointers stay good
  };
  add(config.hooks.create_container, plan.create_container_hooks);
  add(config.hooks.start_container, plan.start_container_hooks);
  UniqueFd fd(::memfd_create("corral-oci-hook-state", MFD_CLOEXEC));
  if (!fd) return ErrnoError("memfd_create for the hooks' state");
  plan.hook_state_fd = fd.get();
  if (!plan.create_container_hooks.empty()) {
    plan.rootfs.before_pivot = &RunCreateContainerHooks;
    plan.rootfs.before_pivot_arg = &plan;
  }
  return fd;
}

// With process.terminal: a pty whose slave belongs to the container's root, sized.
absl::StatusOr<std::optional<Pty>> OpenConsoleFor(const Config& config, bool new_userns) {
  std::optional<Pty> pty;
  if (config.process.terminal) {
    ASSIGN_OR_RETURN(pty, OpenPty());
    if (new_userns) {
      uid_t root_uid = static_cast<uid_t>(-1);
      gid_t root_gid = static_cast<gid_t>(-1);
      for (const IdMapping& m : config.uid_mappings) {
        if (m.container_id == 0) root_uid = m.host_id;
      }
      for (const IdMapping& m : config.gid_mappings) {
        if (m.container_id == 0) root_gid = m.host_id;
      }
      if (::fchown(pty->slave.get(), root_uid, root_gid) != 0) return ErrnoError("chown the console to the container's root");
    }
    if (config.process.console_height > 0 && config.process.console_width > 0) {
      struct winsize size = {};
      size.ws_row = static_cast<unsigned short>(config.process.console_height);
      size.ws_col = static_cast<unsigned short>(config.process.console_width);
      ::ioctl(pty->master.get(), TIOCSWINSZ, &size);
    }
  }
  return pty;
}

}  // namespace

absl::StatusOr<Launched> LaunchInit(const Config& config, const LaunchOptions& options) {
  InitPlan plan;
  plan.config = &config;
  const Namespace* user = config.FindNamespace(CLONE_NEWUSER);
  plan.new_userns = user != nullptr && user->path.empty();
  const Namespace* cgroup = config.FindNamespace(CLONE_NEWCGROUP);
  plan.new_cgroupns = cgroup != nullptr && cgroup->path.empty();
  plan.set_hostname = !config.hostname.empty();
  std::vector<UniqueFd> join_fds;
  UniqueFd join_pid;
  uint64_t clone_flags = 0;
  RETURN_IF_ERROR(OpenJoinedNamespaces(config, plan, join_fds, join_pid, clone_flags));
  RETURN_IF_ERROR(PlanProcess(config, options, plan));
  ASSIGN_OR_RETURN(std::optional<Pty> pty, OpenConsoleFor(config, plan.new_userns));
  plan.console_fd = pty ? pty->slave.get() : -1;
  ASSIGN_OR_RETURN(plan.rootfs, MakeOciRootfsPlan(config, pty ? pty->slave_path : ""));
  ASSIGN_OR_RETURN(UniqueFd hook_state, PlanContainerHooks(config, options, plan));

  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0) return ErrnoError("socketpair for the init");
  UniqueFd parent_end(sync[0]);
  UniqueFd child_end(sync[1]);
  plan.sync_fd = child_end.get();

  // Joining a PID namespace is for children: we enter it for the clone only, then go back.
  UniqueFd own_pid_ns;
  if (join_pid) {
    own_pid_ns.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!own_pid_ns) return ErrnoError("open /proc/self/ns/pid");
    if (::setns(join_pid.get(), CLONE_NEWPID) != 0) return ErrnoError("setns into the PID namespace of linux.namespaces");
  }
  absl::StatusOr<CloneResult> cloned = options.clone_parent ? CloneParent(clone_flags) : CloneWithPidfd(clone_flags);
  if (cloned.ok() && cloned->pid == 0) InitMain(plan);
  if (own_pid_ns) ::setns(own_pid_ns.get(), CLONE_NEWPID);
  if (!cloned.ok()) return cloned.status();
  child_end.reset();
  Launched launched;
  launched.pid = cloned->pid;
  launched.pidfd = std::move(cloned->pidfd);
  // Any error from here kills the init (its parent, ours or us, reaps it).
  auto kill_init = [&]() {
    sys::PidfdSendSignal(launched.pidfd.get(), SIGKILL, nullptr, 0);
    if (!options.clone_parent) {
      siginfo_t info;
      while (::waitid(P_PIDFD, launched.pidfd.get(), &info, WEXITED) != 0 && errno == EINTR) {
      }
    }
  };
  absl::Status status;
  if (plan.new_userns) status = Annotate(WriteIdMaps(launched.pid, config.uid_mappings, config.gid_mappings), "write id maps");
  if (status.ok() && options.before_go) status = options.before_go(launched.pid);
  if (status.ok() && hook_state) {
    status = Annotate(WriteAll(hook_state.get(), options.container_hook_state(launched.pid)), "the hooks' state");
  }
  if (status.ok()) {
    char go = 1;
    if (::write(parent_end.get(), &go, 1) != 1) status = ErrnoError("signal the init to go on");
  }
  if (!status.ok()) {
    kill_init();
    return status;
  }
  ChildError record;
  ssize_t got;
  do {
    got = ::read(parent_end.get(), &record, sizeof(record));
  } while (got < 0 && errno == EINTR);
  if (got == sizeof(record) && record.err == 0 && std::string(record.step) == "ready") {
    if (pty) launched.pty_master = std::move(pty->master);
    launched.sync = std::move(parent_end);
    return launched;
  }
  kill_init();
  if (got < 0) return ErrnoError("read the init's report");
  if (got != sizeof(record)) return absl::InternalError("the init died before reporting (no report)");
  return Annotate(ChildErrorToStatus(record), "create container");
}

absl::Status WaitForExec(Launched& launched) {
  ChildError record;
  ssize_t got;
  do {
    got = ::read(launched.sync.get(), &record, sizeof(record));
  } while (got < 0 && errno == EINTR);
  launched.sync.reset();
  if (got == 0) return absl::OkStatus();
  if (got != sizeof(record)) return absl::InternalError("truncated exec report");
  return ChildErrorToStatus(record);
}

absl::Status SendConsoleToSocket(const std::string& socket_path, int master) { return SendConsole(socket_path, master); }

}  // namespace corral::runtime::oci
