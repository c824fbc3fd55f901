// The init of an OCI container, between clone and exec: namespaces joined, sysctls, rlimits,
// rootfs, device nodes, the wait on exec.fifo, credentials, seccomp. Allocates nothing.
#include "runtime/oci/init.h"


#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
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
#include "runtime/oci/seccomp_cache.h"
#include "runtime/userns.h"


namespace corral::runtime::oci {

namespace {


// After the fifo, nobody reads the sync socket any more: the container's stderr hears it.
void ReportLate(const char* step, const char* path, int err) {
  char buf[512];
  size_t n = 0;
  auto add = [&](const char* s) {
    for (; *s != '\0' && n + 1 < sizeof(buf); ++s) buf[n++] = *s;
  };
  add("corral-oci: ");
  add(step);
  add(" ");
  add(path);
  add(": ");
  add(::strerrordesc_np(err) ? ::strerrordesc_np(err) : "error");
  add("\n");
  (void)!::write(2, buf, n);
}

bool InitFail(const InitPlan& plan, bool late, const char* step, const char* path, int err, bool is_exec = false) {
  if (late) {
    ReportLate(step, path, err);
  } else {
    ReportChildError(plan.sync_fd, step, path, err, is_exec);
  }
  return false;
}

// The five capability sets, and the uid/gid change between them (runc's order: bounding set
// while we still hold CAP_SETPCAP, keep-caps across setresuid, then capset and ambient).
bool DropPrivileges(const InitPlan& plan, bool late) {
  if (::syscall(SYS_setgroups, plan.groups.size(), plan.groups.data()) != 0 && errno != EPERM) {
    return InitFail(plan, late, "setgroups", "", errno);
  }
  if (plan.seccomp && !plan.no_new_privs) {
    // Without no_new_privs only CAP_SYS_ADMIN may install a filter: now, while we have it.
    if (int err = InstallSeccompProgram(*plan.seccomp); err != 0) return InitFail(plan, late, "install seccomp filter", "", err);
  }
  for (int cap = 0; cap <= plan.last_cap; ++cap) {
    if (!(plan.caps.bounding & (uint64_t{1} << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return InitFail(plan, late, "prctl(PR_CAPBSET_DROP)", "", errno);
    }
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return InitFail(plan, late, "prctl(PR_SET_KEEPCAPS)", "", errno);
  if (::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) return InitFail(plan, late, "setresgid", "", errno);
  if (::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) return InitFail(plan, late, "setresuid", "", errno);
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(plan.caps.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(plan.caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(plan.caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &header, data) != 0) return InitFail(plan, late, "capset", "", errno);
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= plan.last_cap; ++cap) {
    // The kernel takes an ambient capability only when it is permitted and inheritable; runc
    // skips the others (its default spec lists ambient ones with no inheritable set).
    uint64_t bit = uint64_t{1} << cap;
    if ((plan.caps.ambient & plan.caps.permitted & plan.caps.inheritable & bit) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      return InitFail(plan, late, "prctl(PR_CAP_AMBIENT_RAISE)", "", errno);
    }
  }
  if (plan.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return InitFail(plan, late, "prctl(PR_SET_NO_NEW_PRIVS)", "", errno);
  }
  if (plan.seccomp && plan.no_new_privs) {
    if (int err = InstallSeccompProgram(*plan.seccomp); err != 0) return InitFail(plan, late, "install seccomp filter", "", err);
  }
  return true;
}

// Finds the command the way execve will: argv[0] with a '/', or along the container's PATH.
// Into `found` (a buffer of 4096); false when there is none.
bool FindCommand(const ExecPlan& exec, char (&found)[4096]) {
  const char* file = exec.argv[0];
  bool has_slash = false;
  for (const char* p = file; *p != '\0'; ++p) has_slash |= *p == '/';
  if (has_slash) {
    CopyBounded(found, sizeof(found), file);
    return ::access(found, X_OK) == 0;
  }
  for (const std::string& dir : exec.path_dirs) {
    size_t n = 0;
    for (char c : dir) {
      if (n + 2 >= sizeof(found)) break;
      found[n++] = c;
    }
    found[n++] = '/';
    for (const char* p = file; *p != '\0' && n + 1 < sizeof(found); ++p) found[n++] = *p;
    found[n] = '\0';
    if (::access(found, X_OK) == 0) return true;
  }
  return false;
}

bool WriteSmallFile(const char* path, const char* value, size_t size) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value, size) == static_cast<ssize_t>(size);
  int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

// linux.devices without a user namespace, as runc makes them: mknod in the container's /dev
// (after pivot_root, so every path resolves inside the root), parents made, mode and owner set.
// An existing node is left alone. Allocates nothing.
bool MakeDeviceNodes(const InitPlan& plan) {
  for (const DeviceNode& node : plan.nodes) {
    char path[4096];
    CopyBounded(path, sizeof(path), node.path.c_str());
    for (char* p = path + 1; *p != '\0'; ++p) {
      if (*p != '/') continue;
      *p = '\0';
      if (::mkdir(path, 0755) != 0 && errno != EEXIST) return InitFail(plan, false, "mkdir for a device node", path, errno);
      *p = '/';
    }
    if (::mknod(path, node.mode, node.dev) != 0) {
      if (errno == EEXIST) continue;
      return InitFail(plan, false, "mknod (linux.devices)", path, errno);
    }
    if (::chmod(path, node.mode & 07777) != 0) return InitFail(plan, false, "chmod a device node", path, errno);
    if (::lchown(path, node.uid, node.gid) != 0) return InitFail(plan, false, "chown a device node", path, errno);
  }
  return true;
}

// Joins and makes the namespaces (user first: it grants the rest).
bool EnterNamespaces(const InitPlan& plan) {
  if (plan.new_userns && (::syscall(SYS_setresgid, 0, 0, 0) != 0 || ::syscall(SYS_setresuid, 0, 0, 0) != 0)) {
    InitFail(plan, false, "become root of the user namespace", "", errno);
    return false;
  }
  for (const JoinFd& join : plan.joins) {
    if (::setns(join.fd, static_cast<int>(join.flag)) != 0) {
      InitFail(plan, false, "setns", "linux.namespaces[].path", errno);
      return false;
    }
    if (join.flag == CLONE_NEWUSER) {
      ::syscall(SYS_setresgid, 0, 0, 0);
      ::syscall(SYS_setresuid, 0, 0, 0);
    }
    ::close(join.fd);
  }
  if (plan.unshare_after_join != 0 && ::unshare(static_cast<int>(plan.unshare_after_join)) != 0) {
    InitFail(plan, false, "unshare", "", errno);
    return false;
  }
  // After the parent placed us in our cgroup: that cgroup is the namespace's root.
  if (plan.new_cgroupns && ::unshare(CLONE_NEWCGROUP) != 0) {
    InitFail(plan, false, "unshare cgroup namespace", "", errno);
    return false;
  }
  return true;
}

// hostname, domainname, namespaced sysctls, oom_score_adj, rlimits.
bool ApplyKernelSettings(const InitPlan& plan) {
  const Config& config = *plan.config;
  if (plan.set_hostname && ::sethostname(config.hostname.data(), config.hostname.size()) != 0) {
    InitFail(plan, false, "sethostname", config.hostname.c_str(), errno);
    return false;
  }
  if (!config.domainname.empty() && ::setdomainname(config.domainname.data(), config.domainname.size()) != 0) {
    InitFail(plan, false, "setdomainname", config.domainname.c_str(), errno);
    return false;
  }
  // Namespaced sysctls, through the host's /proc still mounted here: the files resolve to
  // the namespaces we are in now (validation admitted only keys of namespaces we have).
  for (const SysctlWrite& s : plan.sysctls) {
    if (!WriteSmallFile(s.path.c_str(), s.value.data(), s.value.size())) {
      InitFail(plan, false, "write sysctl", s.path.c_str(), errno);
      return false;
    }
  }
  if (plan.has_oom && !WriteSmallFile("/proc/self/oom_score_adj", plan.oom_score_adj, __builtin_strlen(plan.oom_score_adj))) {
    InitFail(plan, false, "write oom_score_adj", "/proc/self/oom_score_adj", errno);
    return false;
  }
  for (const Rlimit& r : plan.rlimits) {
    struct rlimit limit = {r.soft, r.hard};
    if (::setrlimit(r.resource, &limit) != 0) {
      InitFail(plan, false, "setrlimit", "process.rlimits", errno);
      return false;
    }
  }
  return true;
}

// A session with the console, the rootfs and its device nodes, propagation, read-only root, umask.
bool SetUpRoot(const InitPlan& plan) {
  ::setsid();
  if (plan.console_fd >= 0) {
    if (::ioctl(plan.console_fd, TIOCSCTTY, 0) != 0) {
      InitFail(plan, false, "make the console our controlling terminal", "", errno);
      return false;
    }
    for (int target = 0; target < 3; ++target) ::dup2(plan.console_fd, target);
  }
  if (!SetUpRootfsInChild(plan.rootfs, plan.sync_fd)) return false;
  if (!MakeDeviceNodes(plan)) return false;
  if (plan.rootfs_propagation != 0 && ::mount(nullptr, "/", nullptr, plan.rootfs_propagation, nullptr) != 0) {
    InitFail(plan, false, "set rootfs propagation", "/", errno);
    return false;
  }
  if (plan.root_readonly) {
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof(attr)) != 0) {
      InitFail(plan, false, "make the root read-only (mount_setattr)", "/", errno);
      return false;
    }
  }
  if (plan.has_umask) ::umask(plan.umask);
  return true;
}

// "createContainer hook exited 3" into `out` (no allocation).
void HookOutcome(char (&out)[64], const char* which, const char* what, int number) {
  size_t n = 0;
  AppendBounded(out, sizeof(out), &n, which);
  AppendBounded(out, sizeof(out), &n, " hook ");
  AppendBounded(out, sizeof(out), &n, what, number);
}

// Runs each hook to its end with the state on its stdin, in our namespaces; false (reported)
// when one cannot start, fails or outlives its timeout (then it is killed).
bool RunContainerHooks(const InitPlan& plan, const std::vector<ChildHook>& hooks, const char* which, bool late) {
  for (const ChildHook& hook : hooks) {
    const char* path = hook.path.c_str();
    if (::lseek(plan.hook_state_fd, 0, SEEK_SET) != 0) return InitFail(plan, late, which, path, errno);
    int pidfd = -1;
    struct clone_args args = {};
    args.flags = CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    long pid = sys::Clone3(&args, sizeof(args));
    if (pid < 0) return InitFail(plan, late, which, path, errno);
    if (pid == 0) {
      ::dup2(plan.hook_state_fd, 0);  // the copy is not close-on-exec
      ::execve(path, hook.argv.data(), hook.envp.data());
      ::_exit(127);
    }
    pollfd ended = {pidfd, POLLIN, 0};
    int ready;
    do {
      ready = ::poll(&ended, 1, hook.timeout_seconds > 0 ? hook.timeout_seconds * 1000 : -1);
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) sys::PidfdSendSignal(pidfd, SIGKILL, nullptr, 0);
    siginfo_t info = {};
    while (::waitid(P_PIDFD, pidfd, &info, WEXITED) != 0 && errno == EINTR) {
    }
    ::close(pidfd);
    char step[64];
    if (ready == 0) {
      HookOutcome(step, which, "timed out after (s) ", hook.timeout_seconds);
      return InitFail(plan, late, step, path, ETIMEDOUT);
    }
    if (info.si_code != CLD_EXITED || info.si_status != 0) {
      HookOutcome(step, which, info.si_code == CLD_EXITED ? "exited " : "killed by signal ", info.si_status);
      return InitFail(plan, late, step, path, ECANCELED);
    }
  }
  return true;
}

// Created: tells the parent, then (with a fifo) blocks until `start` opens its read end.
bool ReportReadyAndWait(const InitPlan& plan) {
  ChildError ready;
  CopyBounded(ready.step, sizeof(ready.step), "ready");
  (void)!::write(plan.sync_fd, &ready, sizeof(ready));
  if (plan.exec_fifo >= 0) {
    char path[64];
    size_t n = 0;
    AppendBounded(path, sizeof(path), &n, "/proc/self/fd/", plan.exec_fifo);
    int fifo;
    do {
      fifo = ::open(path, O_WRONLY | O_CLOEXEC);
    } while (fifo < 0 && errno == EINTR);
    if (fifo < 0) {
      ReportLate("open exec fifo", path, errno);
      return false;
    }
    (void)!::write(fifo, "0", 1);
    ::close(fifo);
    ::close(plan.exec_fifo);
  }
  return true;
}

}  // namespace

bool RunCreateContainerHooks(const void* arg) {
  const InitPlan& plan = *static_cast<const InitPlan*>(arg);
  return RunContainerHooks(plan, plan.create_container_hooks, "createContainer", /*late=*/false);
}

void SealHook(ChildHook& hook) {
  hook.argv.clear();
  hook.envp.clear();
  if (hook.args.empty()) hook.args.push_back(hook.path);
  for (std::string& a : hook.args) hook.argv.push_back(a.data());
  hook.argv.push_back(nullptr);
  for (std::string& e : hook.env) hook.envp.push_back(e.data());
  hook.envp.push_back(nullptr);
}

[[noreturn]] void InitMain(const InitPlan& plan) {
  char go = 0;
  ssize_t got;
  do {
    got = ::read(plan.sync_fd, &go, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) ::_exit(125);
  if (!EnterNamespaces(plan) || !ApplyKernelSettings(plan) || !SetUpRoot(plan)) ::_exit(125);
  char command[4096];
  if (!FindCommand(plan.exec, command)) {
    InitFail(plan, false, "exec", plan.exec.argv[0], errno == 0 ? ENOENT : errno, /*is_exec=*/true);
    ::_exit(127);
  }
  if (!ReportReadyAndWait(plan)) ::_exit(125);
  const bool late = plan.exec_fifo >= 0;  // errors from here go to the container's stderr
  ResetSignalsInChild();
  if (!RunContainerHooks(plan, plan.start_container_hooks, "startContainer", late)) ::_exit(125);
  if (!DropPrivileges(plan, late)) ::_exit(125);
  if (::chdir(plan.exec.cwd.c_str()) != 0) {
    InitFail(plan, late, "chdir", plan.exec.cwd.c_str(), errno);
    ::_exit(125);
  }
  sys::CloseRange(3 + plan.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(command, plan.exec.argv.data(), plan.exec.envp.data());
  InitFail(plan, late, "exec", command, errno, /*is_exec=*/true);
  ::_exit(127);
}

}  // namespace corral::runtime::oci
