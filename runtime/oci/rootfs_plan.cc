// The rootfs plan of an OCI container: config.json mounts in order, /dev nodes and links, the
// console, masked and read-only paths (runtime/rootfs.h carries it out in the init).
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

namespace {

// What the mounts gave the rest of the plan to stand on.
struct MountBases {
  bool proc = false, sys = false, dev = false, devpts = false;
};

// config.json mounts[], in order.
absl::Status AddMountSteps(const Config& config, RootfsPlan& plan, MountBases& bases) {
  using Kind = RootfsStep::Kind;
  bool &proc_base = bases.proc, &sys_base = bases.sys, &has_dev = bases.dev, &has_devpts = bases.devpts;
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
  return absl::OkStatus();
}

// linux.devices (bound from the host in a user namespace; made by the init otherwise), the
// default nodes, /dev's links and the console.
absl::Status AddDeviceSteps(const Config& config, const std::string& console_path, const MountBases& bases,
                            RootfsPlan& plan) {
  using Kind = RootfsStep::Kind;
  const bool has_dev = bases.dev, has_devpts = bases.devpts;
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
  return absl::OkStatus();
}

// Beneath the container's own proc or sys mount, or else a path of the image.
RootfsStep::Base PathBase(const std::string& path) {
  if (absl::StartsWith(path, "/sys/")) return RootfsStep::Base::kSys;
  if (absl::StartsWith(path, "/proc/")) return RootfsStep::Base::kProc;
  return RootfsStep::Base::kRootfs;
}

absl::Status AddMaskSteps(const Config& config, const MountBases& bases, RootfsPlan& plan) {
  using Kind = RootfsStep::Kind;
  const bool proc_base = bases.proc, sys_base = bases.sys;
  for (const std::string& path : config.masked_paths) {
    RootfsStep step{Kind::kMask, Relative(path)};
    step.base = PathBase(path);
    if (step.base != RootfsStep::Base::kRootfs && !(step.base == RootfsStep::Base::kSys ? sys_base : proc_base)) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: linux.maskedPaths: ", path, " needs a ",
                                                     step.base == RootfsStep::Base::kSys ? "sysfs on /sys" : "proc on /proc",
                                                     " in mounts"));
    }
    plan.steps.push_back(std::move(step));
  }
  for (const std::string& path : config.readonly_paths) {
    RootfsStep step{Kind::kReadOnly, Relative(path)};
    step.base = PathBase(path);
    if (step.base != RootfsStep::Base::kRootfs && !(step.base == RootfsStep::Base::kSys ? sys_base : proc_base)) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: linux.readonlyPaths: ", path, " needs a ",
                                                     step.base == RootfsStep::Base::kSys ? "sysfs on /sys" : "proc on /proc",
                                                     " in mounts"));
    }
    plan.steps.push_back(std::move(step));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RootfsPlan> MakeOciRootfsPlan(const Config& config, const std::string& console_path) {
  RootfsPlan plan;
  plan.rootfs = config.root_path;
  MountBases bases;
  RETURN_IF_ERROR(AddMountSteps(config, plan, bases));
  RETURN_IF_ERROR(AddDeviceSteps(config, console_path, bases, plan));
  RETURN_IF_ERROR(AddMaskSteps(config, bases, plan));
  return plan;
}

}  // namespace corral::runtime::oci
