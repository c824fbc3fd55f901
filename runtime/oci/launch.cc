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
#include "runtime/oci/seccomp_cache.h"
#include "runtime/userns.h"

namespace corral::runtime::oci {

namespace {

constexpr int64_t kProcMagic = 0x9fa0;
constexpr int64_t kSysfsMagic = 0x62656572;
constexpr int64_t kTmpfsMagic = 0x01021994;
constexpr int64_t kDevptsMagic = 0x1cd1;
constexpr int64_t kMqueueMagic = 0x19800202;

std::string Relative(const std::string& path) {
  size_t start = path.find_first_not_of('/');
  return start == std::string::npos ? std::string() : path.substr(start);
}

// mkdir -p of `dir` (relative) inside `rootfs`, from the host side, never following a symlink
// (a link stops the walk: the child's own resolution then decides, inside the root).
void MakeParentsInRoot(const std::string& rootfs, const std::string& dir) {
  UniqueFd at(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (absl::string_view part : absl::StrSplit(dir, '/', absl::SkipEmpty())) {
    if (!at) return;
    std::string name(part);
    ::mkdirat(at.get(), name.c_str(), 0755);
    struct open_how how = {};
    how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
    at.reset(sys::Openat2(at.get(), name.c_str(), &how, sizeof(how)));
  }
}

std::string ParentOf(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

}  // namespace

bool DevicesByMknod(const Config& config) { return config.FindNamespace(CLONE_NEWUSER) == nullptr; }

absl::StatusOr<RootfsPlan> MakeOciRootfsPlan(const Config& config, const std::string& console_path) {
  using Kind = RootfsStep::Kind;
  RootfsPlan plan;
  plan.rootfs = config.root_path;
  bool proc_base = false, sys_base = false, has_dev = false, has_devpts = false;
  for (size_t i = 0; i < config.mounts.size(); ++i) {
    const Mount& m = config.mounts[i];
    std::string target = Relative(m.destination);
    if (target.empty()) return absl::InvalidArgumentError(absl::StrCat("config.json: mounts[", i, "]: a mount on / itself"));
    MakeParentsInRoot(config.root_path, ParentOf(target));
    unsigned long flags = m.flags & ~static_cast<unsigned long>(MS_BIND | MS_REC | MS_REMOUNT);
    if (m.is_bind()) {
      RootfsStep step{Kind::kBind, target};
      step.source = m.source;
      step.flags = flags;
      struct stat st;
      if (::stat(m.source.c_str(), &st) != 0) {
        return ErrnoError(absl::StrCat("config.json: mounts[", i, "].source: bind source ", m.source));
      }
      step.target_is_file = !S_ISDIR(st.st_mode);
      plan.steps.push_back(std::move(step));
      continue;
    }
    RootfsStep step{Kind::kApiMount, target};
    step.source = m.source.empty() ? m.type : m.source;
    step.fstype = m.type;
    step.flags = flags;
    step.data = m.data;
    if (m.type == "proc") {
      step.magic = kProcMagic;
      if (m.destination == "/proc" && !proc_base) {
        step.keep_as_base = proc_base = true;
        step.base = RootfsStep::Base::kProc;
      }
    } else if (m.type == "sysfs") {
      step.magic = kSysfsMagic;
      step.bind_host_sys = true;
      if (m.destination == "/sys" && !sys_base) {
        step.keep_as_base = sys_base = true;
        step.base = RootfsStep::Base::kSys;
      }
    } else if (m.type == "tmpfs") {
      step.magic = kTmpfsMagic;
      has_dev |= m.destination == "/dev";
    } else if (m.type == "devpts") {
      step.magic = kDevptsMagic;
      has_devpts |= m.destination == "/dev/pts";
    } else if (m.type == "mqueue") {
      step.magic = kMqueueMagic;
    } else {
      // cgroup (v1 in the spec's words) is mounted as cgroup2: in the container's cgroup
      // namespace it shows the container's own subtree.
      step.kind = Kind::kMount;
      if (m.type == "cgroup" || m.type == "cgroup2") {
        step.fstype = "cgroup2";
        step.source = "cgroup2";
        step.data.clear();
      }
    }
    plan.steps.push_back(std::move(step));
  }
  // Device nodes: the host's own, bound (the container's /dev tmpfs may be nodev).
  std::vector<std::string> bound;
  for (size_t i = 0; i < config.devices.size(); ++i) {
    const Device& d = config.devices[i];
    if (DevicesByMknod(config)) {
      bound.push_back(d.path);  // made by the init after pivot_root (MakeDeviceNodes)
      continue;
    }
    struct stat st;
    bool is_char = d.type == 'c' || d.type == 'u';
    if (d.type == 'p' || ::stat(d.path.c_str(), &st) != 0 || (is_char ? !S_ISCHR(st.st_mode) : !S_ISBLK(st.st_mode)) ||
        static_cast<int64_t>(major(st.st_rdev)) != d.major || static_cast<int64_t>(minor(st.st_rdev)) != d.minor) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: linux.devices[", i, "]: the host has no ", std::string(1, d.type),
                                                     " ", d.major, ":", d.minor, " node at ", d.path,
                                                     " (corral-oci binds the host's nodes)"));
    }
    RootfsStep step{Kind::kDevice, Relative(d.path)};
    step.source = d.path;
    step.target_is_file = true;
    plan.steps.push_back(std::move(step));
    bound.push_back(d.path);
  }
  for (const DeviceSpec& d : DefaultDevices()) {
    if (std::find(bound.begin(), bound.end(), d.path) != bound.end()) continue;
    RootfsStep step{Kind::kDevice, Relative(d.path)};
    step.source = d.path;
    step.target_is_file = true;
    plan.steps.push_back(std::move(step));
  }
  if (has_dev) {
    auto link = [&](const char* target, const char* to) {
      RootfsStep step{Kind::kSymlink, target};
      step.source = to;
      plan.steps.push_back(std::move(step));
    };
    link("dev/fd", "/proc/self/fd");
    link("dev/stdin", "/proc/self/fd/0");
    link("dev/stdout", "/proc/self/fd/1");
    link("dev/stderr", "/proc/self/fd/2");
    link("dev/core", "/proc/kcore");
    if (has_devpts) link("dev/ptmx", "pts/ptmx");
  }
  if (!console_path.empty()) {
    RootfsStep step{Kind::kDevice, "dev/console"};
    step.source = console_path;
    step.target_is_file = true;
    plan.steps.push_back(std::move(step));
  }
  for (const std::string& path : config.masked_paths) {
    RootfsStep step{Kind::kMask, Relative(path)};
    step.base = absl::StartsWith(path, "/sys/") ? RootfsStep::Base::kSys : RootfsStep::Base::kProc;
    if (!(step.base == RootfsStep::Base::kSys ? sys_base : proc_base)) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: linux.maskedPaths: ", path, " needs a ",
                                                     step.base == RootfsStep::Base::kSys ? "sysfs on /sys" : "proc on /proc",
                                                     " in mounts"));
    }
    plan.steps.push_back(std::move(step));
  }
  for (const std::string& path : config.readonly_paths) {
    RootfsStep step{Kind::kReadOnly, Relative(path)};
    step.base = absl::StartsWith(path, "/sys/") ? RootfsStep::Base::kSys : RootfsStep::Base::kProc;
    if (!(step.base == RootfsStep::Base::kSys ? sys_base : proc_base)) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: linux.readonlyPaths: ", path, " needs a ",
                                                     step.base == RootfsStep::Base::kSys ? "sysfs on /sys" : "proc on /proc",
                                                     " in mounts"));
    }
    plan.steps.push_back(std::move(step));
  }
  return plan;
}

// ---- seccomp ----

namespace {

absl::StatusOr<uint32_t> SeccompAction(const std::string& action, std::optional<uint32_t> errno_ret,
                                       const std::string& field) {
  if (action == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": unsupported seccomp action \"", action, "\""));
}

absl::StatusOr<scmp_compare> SeccompOp(const std::string& op, const std::string& field) {
  static const std::pair<const char*, scmp_compare> kOps[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  for (const auto& [name, value] : kOps) {
    if (op == name) return value;
  }
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": unknown seccomp operator \"", op, "\""));
}

}  // namespace

absl::StatusOr<SeccompProgram> CompileOciSeccomp(const Seccomp& seccomp) {
  ASSIGN_OR_RETURN(uint32_t default_action,
                   SeccompAction(seccomp.default_action, seccomp.default_errno_ret, "linux.seccomp.defaultAction"));
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(default_action), seccomp_release);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  // A denied syscall of another architecture must not slip through: without a list, the
  // native one only (libseccomp kills foreign ABIs with SCMP_FLTATR_ACT_BADARCH).
  for (size_t i = 0; i < seccomp.architectures.size(); ++i) {
    std::string name = absl::AsciiStrToLower(absl::StripPrefix(seccomp.architectures[i], "SCMP_ARCH_"));
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("config.json: linux.seccomp.architectures[", i, "]: unknown \"", seccomp.architectures[i], "\""));
    }
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc != 0 && rc != -EEXIST) return ErrnoError(-rc, absl::StrCat("seccomp_arch_add ", name));
  }
  for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
    const SeccompRule& rule = seccomp.syscalls[i];
    std::string field = absl::StrCat("linux.seccomp.syscalls[", i, "]");
    ASSIGN_OR_RETURN(uint32_t action, SeccompAction(rule.action, rule.errno_ret, field + ".action"));
    if (action == default_action) continue;  // libseccomp refuses a rule that changes nothing
    std::vector<scmp_arg_cmp> args;
    bool repeated_index = false;
    for (size_t j = 0; j < rule.args.size(); ++j) {
      ASSIGN_OR_RETURN(scmp_compare op, SeccompOp(rule.args[j].op, absl::StrCat(field, ".args[", j, "].op")));
      for (const scmp_arg_cmp& seen : args) repeated_index |= seen.arg == rule.args[j].index;
      args.push_back(scmp_arg_cmp{rule.args[j].index, op, rule.args[j].value, rule.args[j].value_two});
    }
    for (const std::string& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // not a syscall here (as runc: skipped)
      // Comparisons of one argument twice cannot share a rule: one rule each (runc does the same).
      std::vector<std::vector<scmp_arg_cmp>> sets;
      if (repeated_index) {
        for (const scmp_arg_cmp& a : args) sets.push_back({a});
      } else {
        sets.push_back(args);
      }
      for (const auto& set : sets) {
        int rc = seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(set.size()), set.data());
        if (rc != 0 && rc != -EDOM && rc != -EEXIST) {
          return ErrnoError(-rc, absl::StrCat("config.json: ", field, ": seccomp_rule_add ", name));
        }
      }
    }
  }
  UniqueFd memfd(::memfd_create("corral-oci-seccomp", MFD_CLOEXEC));
  if (!memfd) return ErrnoError("memfd_create for the seccomp program");
  if (int rc = seccomp_export_bpf(ctx.get(), memfd.get()); rc != 0) return ErrnoError(-rc, "seccomp_export_bpf");
  off_t size = ::lseek(memfd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return absl::InternalError("seccomp_export_bpf: bad size");
  SeccompProgram program;
  program.instructions.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(memfd.get(), program.instructions.data(), static_cast<size_t>(size), 0) != size) {
    return ErrnoError("read back the seccomp program");
  }
  return program;
}

// ---- the init ----

namespace {

struct JoinFd {
  int fd;
  uint64_t flag;
};

struct DeviceNode {
  std::string path;  // absolute, inside the container
  mode_t mode = 0;   // S_IFCHR/S_IFBLK/S_IFIFO | permissions
  dev_t dev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct SysctlWrite {
  std::string path;  // /proc/sys/net/ipv4/ip_forward
  std::string value;
};

// Everything the init needs, prepared before the clone: the child allocates nothing.
struct InitPlan {
  const Config* config;
  RootfsPlan rootfs;
  ExecPlan exec;  // argv, envp, PATH dirs, cwd (credentials below are the OCI ones)
  std::vector<JoinFd> joins;        // user first
  uint64_t unshare_after_join = 0;  // new namespaces made after joining a user namespace
  bool new_userns = false;
  bool new_cgroupns = false;
  bool set_hostname = false;
  std::vector<SysctlWrite> sysctls;
  std::vector<DeviceNode> nodes;  // linux.devices made with mknod (no user namespace)
  std::vector<Rlimit> rlimits;
  char oom_score_adj[16] = {};
  bool has_oom = false;
  bool has_umask = false;
  mode_t umask = 022;
  std::vector<gid_t> groups;
  uid_t uid = 0;
  gid_t gid = 0;
  Capabilities caps;
  int last_cap = 40;
  bool no_new_privs = false;
  std::optional<SeccompProgram> seccomp;
  bool root_readonly = false;
  unsigned long rootfs_propagation = 0;
  int sync_fd = -1;
  int console_fd = -1;
  int exec_fifo = -1;
  int preserve_fds = 0;
};

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

[[noreturn]] void InitMain(const InitPlan& plan) {
  const Config& config = *plan.config;
  char go = 0;
  ssize_t got;
  do {
    got = ::read(plan.sync_fd, &go, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) ::_exit(125);
  if (plan.new_userns && (::syscall(SYS_setresgid, 0, 0, 0) != 0 || ::syscall(SYS_setresuid, 0, 0, 0) != 0)) {
    InitFail(plan, false, "become root of the user namespace", "", errno);
    ::_exit(125);
  }
  for (const JoinFd& join : plan.joins) {
    if (::setns(join.fd, static_cast<int>(join.flag)) != 0) {
      InitFail(plan, false, "setns", "linux.namespaces[].path", errno);
      ::_exit(125);
    }
    if (join.flag == CLONE_NEWUSER) {
      ::syscall(SYS_setresgid, 0, 0, 0);
      ::syscall(SYS_setresuid, 0, 0, 0);
    }
    ::close(join.fd);
  }
  if (plan.unshare_after_join != 0 && ::unshare(static_cast<int>(plan.unshare_after_join)) != 0) {
    InitFail(plan, false, "unshare", "", errno);
    ::_exit(125);
  }
  // After the parent placed us in our cgroup: that cgroup is the namespace's root.
  if (plan.new_cgroupns && ::unshare(CLONE_NEWCGROUP) != 0) {
    InitFail(plan, false, "unshare cgroup namespace", "", errno);
    ::_exit(125);
  }
  if (plan.set_hostname && ::sethostname(config.hostname.data(), config.hostname.size()) != 0) {
    InitFail(plan, false, "sethostname", config.hostname.c_str(), errno);
    ::_exit(125);
  }
  if (!config.domainname.empty() && ::setdomainname(config.domainname.data(), config.domainname.size()) != 0) {
    InitFail(plan, false, "setdomainname", config.domainname.c_str(), errno);
    ::_exit(125);
  }
  // Namespaced sysctls, through the host's /proc still mounted here: the files resolve to
  // the namespaces we are in now (validation admitted only keys of namespaces we have).
  for (const SysctlWrite& s : plan.sysctls) {
    if (!WriteSmallFile(s.path.c_str(), s.value.data(), s.value.size())) {
      InitFail(plan, false, "write sysctl", s.path.c_str(), errno);
      ::_exit(125);
    }
  }
  if (plan.has_oom && !WriteSmallFile("/proc/self/oom_score_adj", plan.oom_score_adj, __builtin_strlen(plan.oom_score_adj))) {
    InitFail(plan, false, "write oom_score_adj", "/proc/self/oom_score_adj", errno);
    ::_exit(125);
  }
  for (const Rlimit& r : plan.rlimits) {
    struct rlimit limit = {r.soft, r.hard};
    if (::setrlimit(r.resource, &limit) != 0) {
      InitFail(plan, false, "setrlimit", "process.rlimits", errno);
      ::_exit(125);
    }
  }
  ::setsid();
  if (plan.console_fd >= 0) {
    if (::ioctl(plan.console_fd, TIOCSCTTY, 0) != 0) {
      InitFail(plan, false, "make the console our controlling terminal", "", errno);
      ::_exit(125);
    }
    for (int target = 0; target < 3; ++target) ::dup2(plan.console_fd, target);
  }
  if (!SetUpRootfsInChild(plan.rootfs, plan.sync_fd)) ::_exit(125);
  if (!MakeDeviceNodes(plan)) ::_exit(125);
  if (plan.rootfs_propagation != 0 && ::mount(nullptr, "/", nullptr, plan.rootfs_propagation, nullptr) != 0) {
    InitFail(plan, false, "set rootfs propagation", "/", errno);
    ::_exit(125);
  }
  if (plan.root_readonly) {
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof(attr)) != 0) {
      InitFail(plan, false, "make the root read-only (mount_setattr)", "/", errno);
      ::_exit(125);
    }
  }
  if (plan.has_umask) ::umask(plan.umask);
  char command[4096];
  if (!FindCommand(plan.exec, command)) {
    InitFail(plan, false, "exec", plan.exec.argv[0], errno == 0 ? ENOENT : errno, /*is_exec=*/true);
    ::_exit(127);
  }
  // Created: tell the parent, then wait for `start`.
  ChildError ready;
  CopyBounded(ready.step, sizeof(ready.step), "ready");
  (void)!::write(plan.sync_fd, &ready, sizeof(ready));
  bool late = false;
  if (plan.exec_fifo >= 0) {
    late = true;
    char path[64] = "/proc/self/fd/";
    {
      char digits[12];
      int d = 0;
      unsigned v = static_cast<unsigned>(plan.exec_fifo);
      do {
        digits[d++] = static_cast<char>('0' + v % 10);
        v /= 10;
      } while (v != 0);
      size_t n = __builtin_strlen(path);
      while (d > 0) path[n++] = digits[--d];
      path[n] = '\0';
    }
    int fifo;
    do {
      fifo = ::open(path, O_WRONLY | O_CLOEXEC);
    } while (fifo < 0 && errno == EINTR);
    if (fifo < 0) {
      ReportLate("open exec fifo", path, errno);
      ::_exit(125);
    }
    (void)!::write(fifo, "0", 1);
    ::close(fifo);
    ::close(plan.exec_fifo);
  }
  ResetSignalsInChild();
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

}  // namespace

absl::StatusOr<Launched> LaunchInit(const Config& config, const LaunchOptions& options) {
  InitPlan plan;
  plan.config = &config;
  const Namespace* user = config.FindNamespace(CLONE_NEWUSER);
  plan.new_userns = user != nullptr && user->path.empty();
  const Namespace* cgroup = config.FindNamespace(CLONE_NEWCGROUP);
  plan.new_cgroupns = cgroup != nullptr && cgroup->path.empty();
  plan.set_hostname = !config.hostname.empty();

  // Joined namespaces: fds now, setns in the init (user first: it grants the rest).
  std::vector<UniqueFd> join_fds;
  UniqueFd join_pid;
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
  uint64_t clone_flags = new_flags;
  if (join_user) {
    // Namespaces made after joining the user namespace are owned by it.
    clone_flags = new_flags & CLONE_NEWPID;
    plan.unshare_after_join = new_flags & ~static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWUSER);
  }
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
  // The command: the process's env exactly, with HOME added when missing (as runc does).
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
  plan.exec_fifo = options.exec_fifo;
  plan.preserve_fds = options.preserve_fds;

  std::optional<Pty> pty;
  if (config.process.terminal) {
    ASSIGN_OR_RETURN(pty, OpenPty());
    if (plan.new_userns) {
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
  plan.console_fd = pty ? pty->slave.get() : -1;
  ASSIGN_OR_RETURN(plan.rootfs, MakeOciRootfsPlan(config, pty ? pty->slave_path : ""));

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
