#include "runtime/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "common/syscalls.h"
#include "runtime/binds.h"
#include "runtime/child_error.h"
#include "runtime/child_fd.h"
#include "runtime/devices.h"

namespace corral::runtime {

using Kind = RootfsStep::Kind;

const std::vector<std::string>& MaskedPaths() {
  static const std::vector<std::string> kMasked = {
      "proc/acpi",       "proc/asound",    "proc/kcore",       "proc/keys",
      "proc/latency_stats", "proc/timer_list", "proc/timer_stats", "proc/sched_debug",
      "proc/scsi",       "sys/firmware",   "sys/devices/virtual/powercap"};
  return kMasked;
}

const std::vector<std::string>& ReadOnlyPaths() {
  static const std::vector<std::string> kReadOnly = {"proc/bus", "proc/fs", "proc/irq", "proc/sys",
                                                      "proc/sysrq-trigger"};
  return kReadOnly;
}

namespace {

// statfs magic numbers (linux/magic.h; mqueue's is not exported there).
constexpr int64_t kProcMagic = 0x9fa0;       // PROC_SUPER_MAGIC
constexpr int64_t kSysfsMagic = 0x62656572;  // SYSFS_MAGIC
constexpr int64_t kTmpfsMagic = 0x01021994;  // TMPFS_MAGIC
constexpr int64_t kDevptsMagic = 0x1cd1;     // DEVPTS_SUPER_MAGIC
constexpr int64_t kMqueueMagic = 0x19800202; // MQUEUE_MAGIC (ipc/mqueue.c)

RootfsStep ApiMount(std::string target, std::string source, std::string fstype, unsigned long flags,
                    std::string data, int64_t magic) {
  RootfsStep step{Kind::kApiMount, std::move(target)};
  step.source = std::move(source);
  step.fstype = std::move(fstype);
  step.flags = flags;
  step.data = std::move(data);
  step.magic = magic;
  return step;
}

// The container's /dev is nodev: a node created or shipped there does not open. Only these
// bind mounts of the host's own nodes do, each its own mount with the host /dev's flags.
RootfsStep Device(std::string target, std::string host_node) {
  RootfsStep step{Kind::kDevice, std::move(target)};
  step.source = std::move(host_node);
  step.target_is_file = true;
  return step;
}

RootfsStep Symlink(std::string target, std::string points_to) {
  RootfsStep step{Kind::kSymlink, std::move(target)};
  step.source = std::move(points_to);
  return step;
}

std::string Relative(const std::string& path) {
  size_t start = path.find_first_not_of('/');
  return start == std::string::npos ? std::string() : path.substr(start);
}

RootfsStep Beneath(Kind kind, const std::string& path) {
  RootfsStep step{kind, path};
  step.base = absl::StartsWith(path, "sys/") ? RootfsStep::Base::kSys : RootfsStep::Base::kProc;
  return step;
}

}  // namespace

RootfsPlan MakeRootfsPlan(const ContainerSpec& spec, const std::string& console_path) {
  RootfsPlan plan;
  plan.rootfs = spec.rootfs;
  std::vector<RootfsStep>& s = plan.steps;
  constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

  RootfsStep proc = ApiMount("proc", "proc", "proc", kNoSuidDevExec, "", kProcMagic);
  proc.keep_as_base = true;
  proc.base = RootfsStep::Base::kProc;
  s.push_back(proc);
  RootfsStep sys = ApiMount("sys", "sysfs", "sysfs", kNoSuidDevExec | MS_RDONLY, "", kSysfsMagic);
  sys.keep_as_base = true;
  sys.base = RootfsStep::Base::kSys;
  sys.bind_host_sys = true;
  s.push_back(sys);
  s.push_back(ApiMount("dev", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=755,size=65536k",
                       kTmpfsMagic));
  for (const DeviceSpec& d : DefaultDevices()) s.push_back(Device(Relative(d.path), d.path));
  for (const DeviceSpec& d : spec.devices) s.push_back(Device(Relative(d.path), d.path));
  // devpts is the one mount under /dev that keeps device access: its ptmx and slaves are the
  // container's terminals.
  s.push_back(ApiMount("dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
                       kDevptsMagic));
  s.push_back(Symlink("dev/ptmx", "pts/ptmx"));
  s.push_back(Symlink("dev/fd", "/proc/self/fd"));
  s.push_back(Symlink("dev/stdin", "/proc/self/fd/0"));
  s.push_back(Symlink("dev/stdout", "/proc/self/fd/1"));
  s.push_back(Symlink("dev/stderr", "/proc/self/fd/2"));
  s.push_back(ApiMount("dev/shm", "shm", "tmpfs", kNoSuidDevExec, "mode=1777,size=65536k", kTmpfsMagic));
  s.push_back(ApiMount("dev/mqueue", "mqueue", "mqueue", kNoSuidDevExec, "", kMqueueMagic));
  if (!console_path.empty()) s.push_back(Device("dev/console", console_path));
  s.push_back(ApiMount("run", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k", kTmpfsMagic));
  s.push_back(ApiMount("tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", kTmpfsMagic));

  for (const MountSpec& m : spec.mounts) {
    RootfsStep step{m.fstype.empty() ? Kind::kBind : Kind::kMount, Relative(m.target)};
    step.source = m.source;
    step.fstype = m.fstype;
    step.data = m.data;
    step.flags = m.read_only ? MS_RDONLY : 0;
    if (m.fstype.empty()) {
      struct stat st;
      step.target_is_file = m.source_is_file || (::stat(m.source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode));
    }
    s.push_back(step);
  }

  // The user's binds and tmpfs, a parent's mount before its children's (a --tmpfs /data and a
  // --bind ...:/data/x: the bind lands on the tmpfs), else in the order given.
  std::vector<RootfsStep> user;
  for (size_t i = 0; i < spec.binds.size(); ++i) {
    RootfsStep step{Kind::kBindTree, Relative(spec.binds[i].target)};
    step.source = spec.binds[i].source;
    step.bind_index = static_cast<int>(i);
    user.push_back(step);
  }
  for (const TmpfsSpec& t : spec.tmpfs) {
    RootfsStep step{Kind::kTmpfs, Relative(t.target)};
    step.source = "tmpfs";
    step.fstype = "tmpfs";
    step.flags = MS_NOSUID | MS_NODEV;
    step.data = TmpfsMountData(t);
    user.push_back(step);
  }
  std::stable_sort(user.begin(), user.end(), [](const RootfsStep& a, const RootfsStep& b) {
    return std::count(a.target.begin(), a.target.end(), '/') < std::count(b.target.begin(), b.target.end(), '/');
  });
  s.insert(s.end(), user.begin(), user.end());

  for (const std::string& path : MaskedPaths()) s.push_back(Beneath(Kind::kMask, path));
  for (const std::string& path : ReadOnlyPaths()) s.push_back(Beneath(Kind::kReadOnly, path));
  return plan;
}

// ---- Child side: everything below runs between clone and exec and must not allocate. ----
namespace {

// Writes "/proc/self/fd/<fd>" into buf.
void FdPath(int fd, char (&buf)[32]) {
  size_t n = 0;
  AppendBounded(buf, sizeof(buf), &n, "/proc/self/fd/", fd);
}

int Openat2Retrying(int dir_fd, const char* path, int flags, uint64_t resolve) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.resolve = resolve;
  int fd;
  do {
    fd = sys::Openat2(dir_fd, path, &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);  // a concurrent rename elsewhere: just retry
  return fd;
}

// Resolves `path` inside the root `root_fd`; symlinks and ".." cannot leave it.
int OpenInRoot(int root_fd, const char* path, int flags) {
  return Openat2Retrying(root_fd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

// The same, following no symlink at all: for the rootfs's own directories (proc, dev/pts, ...),
// which a previous run may have replaced with links in the writable upper layer.
int OpenInRootNoSymlinks(int root_fd, const char* path, int flags) {
  return Openat2Retrying(root_fd, path, flags | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
}

// Resolves `path` beneath the mount root `base_fd` without leaving that mount or following a
// link: a mask lands on the procfs or sysfs the container was given, whatever the image holds.
int OpenBeneathMount(int base_fd, const char* path) {
  return Openat2Retrying(base_fd, path, O_PATH | O_NOFOLLOW,
                         RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

// Splits "a/b/c" into the parent "a/b" (copied into buf) and returns "c".
const char* SplitParent(const char* path, char (&parent)[256]) {
  size_t last = 0, n = 0;
  bool has_slash = false;
  for (; path[n] != '\0' && n + 1 < sizeof(parent); ++n) {
    parent[n] = path[n];
    if (path[n] == '/') {
      last = n;
      has_slash = true;
    }
  }
  if (!has_slash) {
    parent[0] = '.';
    parent[1] = '\0';
    return path;
  }
  parent[last] = '\0';
  return path + last + 1;
}

bool Fail(int error_fd, const char* step, const char* path) {
  ReportChildError(error_fd, step, path, errno);
  return false;
}

bool FailWith(int error_fd, int err, const char* step, const char* path) {
  errno = err;
  return Fail(error_fd, step, path);
}

// What the steps share: the rootfs, the fresh proc and sys mount roots, where errors go.
struct ChildRootfs {
  int root_fd = -1;
  int error_fd = -1;
  ChildFd proc;  // O_PATH fd of the container's procfs root, once mounted
  ChildFd sys;   // the same for its sysfs (or the read-only bind of the host's)
  int stage_fd = -1;  // the bind stage's root (plan.staged), or -1
};

// Creates the mount point (a directory, or an empty file) if it is missing; resolution of the
// parent stays inside the root.
int EnsureMountPoint(int root_fd, const char* target, bool is_file) {
  int fd = OpenInRoot(root_fd, target, O_PATH);
  if (fd >= 0 || errno != ENOENT) return fd;
  char parent[256];
  const char* leaf = SplitParent(target, parent);
  ChildFd parent_fd(OpenInRoot(root_fd, parent, O_PATH | O_DIRECTORY));
  if (!parent_fd.valid()) return -1;
  int rc = is_file ? ::mknodat(parent_fd.get(), leaf, S_IFREG | 0644, 0) : ::mkdirat(parent_fd.get(), leaf, 0755);
  if (rc != 0 && errno != EEXIST) return -1;
  return OpenInRoot(root_fd, target, O_PATH);
}

// The mount point of an API file system: a real directory (created when missing), reached
// without any symlink. Anything else there is refused, naming the path.
int EnsureRealDirectory(const ChildRootfs& c, const char* target) {
  int fd = OpenInRootNoSymlinks(c.root_fd, target, O_PATH | O_DIRECTORY);
  if (fd >= 0) return fd;
  if (errno == ELOOP || errno == ENOTDIR) {
    Fail(c.error_fd, "refuse the rootfs: not a real directory (a symlink or file) at", target);
    return -1;
  }
  if (errno != ENOENT) {
    Fail(c.error_fd, "open mount point", target);
    return -1;
  }
  char parent[256];
  const char* leaf = SplitParent(target, parent);
  ChildFd parent_fd(OpenInRootNoSymlinks(c.root_fd, parent, O_PATH | O_DIRECTORY));
  if (!parent_fd.valid()) {
    Fail(c.error_fd, errno == ELOOP || errno == ENOTDIR ? "refuse the rootfs: not a real directory (a symlink or file) at"
                                                       : "open mount point's parent",
         parent);
    return -1;
  }
  if (::mkdirat(parent_fd.get(), leaf, 0755) != 0 && errno != EEXIST) {
    Fail(c.error_fd, "create mount point", target);
    return -1;
  }
  fd = OpenInRootNoSymlinks(c.root_fd, target, O_PATH | O_DIRECTORY);
  if (fd < 0) {
    Fail(c.error_fd, errno == ELOOP || errno == ENOTDIR ? "refuse the rootfs: not a real directory (a symlink or file) at"
                                                       : "open mount point",
         target);
  }
  return fd;
}

// A bind of a host device node (the container's nodes, /dev/null over a masked file).
constexpr uint64_t kDeviceBindAttr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;

// Clones the mount tree at (dir_fd, path) with everything under it, applies `attr` to every
// mount of the clone, and attaches it on `target_fd`. The clone is never visible before its
// attributes are set, and no submount keeps the source's flags (crun's do_mount_setattr).
bool CloneTreeOnto(int dir_fd, const char* path, unsigned path_flags, uint64_t attr, int target_fd) {
  ChildFd tree(static_cast<int>(::open_tree(dir_fd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | path_flags)));
  if (!tree.valid()) return false;
  if (attr != 0) {
    struct mount_attr set = {};
    set.attr_set = attr;
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &set, sizeof(set)) != 0) return false;
  }
  return ::move_mount(tree.get(), "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0;
}

bool ApiMountStep(const RootfsStep& step, ChildRootfs& c) {
  const char* target = step.target.c_str();
  ChildFd fd(EnsureRealDirectory(c, target));
  if (!fd.valid()) return false;  // reported
  char proc_path[32];
  FdPath(fd.get(), proc_path);
  int rc = ::mount(step.source.c_str(), proc_path, step.fstype.c_str(), step.flags,
                   step.data.empty() ? nullptr : step.data.c_str());
  // sysfs cannot be mounted fresh in a network namespace we do not own (--userns with the
  // host's network): bind the host's, read-only down to its last submount (the cgroup mounts).
  if (rc != 0 && (errno == EPERM || errno == EACCES) && step.bind_host_sys) {
    rc = CloneTreeOnto(AT_FDCWD, "/sys", 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                       fd.get())
             ? 0
             : -1;
  }
  if (rc != 0) return Fail(c.error_fd, "mount", target);
  // Re-resolve: the fd still names the directory under the new mount.
  ChildFd mounted(OpenInRootNoSymlinks(c.root_fd, target, O_PATH | O_DIRECTORY));
  if (!mounted.valid()) return Fail(c.error_fd, "open the new mount", target);
  struct statfs fs;
  if (::fstatfs(mounted.get(), &fs) != 0) return Fail(c.error_fd, "fstatfs the new mount", target);
  if (static_cast<int64_t>(fs.f_type) != step.magic) {
    return FailWith(c.error_fd, EXDEV, "refuse the rootfs: wrong file system type (statfs) mounted at", target);
  }
  if (step.keep_as_base) (step.base == RootfsStep::Base::kProc ? c.proc : c.sys).reset(mounted.release());
  return true;
}

bool MountStep(const RootfsStep& step, ChildRootfs& c) {
  const char* target = step.target.c_str();
  ChildFd fd(EnsureMountPoint(c.root_fd, target, step.target_is_file));
  if (!fd.valid()) return Fail(c.error_fd, "create mount point", target);
  char proc_path[32];
  FdPath(fd.get(), proc_path);
  if (::mount(step.source.c_str(), proc_path, step.fstype.c_str(), step.flags | MS_NODEV,
              step.data.empty() ? nullptr : step.data.c_str()) != 0) {
    return Fail(c.error_fd, "mount", target);
  }
  return true;
}

bool BindStep(const RootfsStep& step, ChildRootfs& c) {
  const char* target = step.target.c_str();
  ChildFd fd(EnsureMountPoint(c.root_fd, target, step.target_is_file));
  if (!fd.valid()) return Fail(c.error_fd, "create mount point", target);
  uint64_t attr = MOUNT_ATTR_NODEV | ((step.flags & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0) |
                  ((step.flags & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0) | ((step.flags & MS_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
  if (!CloneTreeOnto(AT_FDCWD, step.source.c_str(), 0, attr, fd.get())) return Fail(c.error_fd, "bind mount", target);
  return true;
}

bool BindTreeStep(const RootfsStep& step, ChildRootfs& c) {
  const char* failed = "";
  int tree_fd = step.tree_fd;
  ChildFd staged;
  if (!step.stage_name.empty()) {
    // A clone of the staged (locked) tree: the clone keeps MNT_LOCK_READONLY and friends, and
    // its submounts stay MNT_LOCKED.
    if (c.stage_fd < 0) return FailWith(c.error_fd, EBADF, "no bind stage for", step.target.c_str());
    staged.reset(static_cast<int>(
        ::open_tree(c.stage_fd, step.stage_name.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
    if (!staged.valid()) return Fail(c.error_fd, "clone the staged bind (open_tree)", step.target.c_str());
    tree_fd = staged.get();
  }
  int err = AttachBindInChild(c.root_fd, step.target.c_str(), step.target_is_file, tree_fd, &failed);
  if (err != 0) return FailWith(c.error_fd, err, failed, step.target.c_str());
  return true;
}

bool TmpfsStep(const RootfsStep& step, ChildRootfs& c) {
  const char* target = step.target.c_str();
  ChildFd fd(MakeMountPointInChild(c.root_fd, target, /*is_file=*/false));
  if (!fd.valid()) return Fail(c.error_fd, "create the tmpfs mount point", target);
  char proc_path[32];
  FdPath(fd.get(), proc_path);
  // Mounted by the container's root in its own user namespace: the tmpfs is owned by it.
  if (::mount("tmpfs", proc_path, "tmpfs", step.flags | MS_NOSUID | MS_NODEV, step.data.c_str()) != 0) {
    return Fail(c.error_fd, "mount tmpfs", target);
  }
  return true;
}

// mkdir -p of `dir` inside the root, no symlink followed (dev/net for /dev/net/tun).
int EnsureDirectoriesNoSymlinks(const ChildRootfs& c, char (&dir)[256]) {
  int fd = OpenInRootNoSymlinks(c.root_fd, dir, O_PATH | O_DIRECTORY);
  if (fd >= 0 || errno != ENOENT) return fd;
  char parent[256];
  const char* leaf = SplitParent(dir, parent);
  if (parent[0] == '.' && parent[1] == '\0') return -1;
  ChildFd parent_fd(EnsureDirectoriesNoSymlinks(c, parent));
  if (!parent_fd.valid()) return -1;
  if (::mkdirat(parent_fd.get(), leaf, 0755) != 0 && errno != EEXIST) return -1;
  return OpenInRootNoSymlinks(c.root_fd, dir, O_PATH | O_DIRECTORY);
}

bool DeviceStep(const RootfsStep& step, ChildRootfs& c) {
  const char* target = step.target.c_str();
  char parent[256];
  const char* leaf = SplitParent(target, parent);
  ChildFd parent_fd(EnsureDirectoriesNoSymlinks(c, parent));
  if (!parent_fd.valid()) return Fail(c.error_fd, "open device directory", parent);
  if (::mknodat(parent_fd.get(), leaf, S_IFREG | 0644, 0) != 0 && errno != EEXIST) {
    return Fail(c.error_fd, "create device mount point", target);
  }
  ChildFd node(::openat(parent_fd.get(), leaf, O_PATH | O_CLOEXEC | O_NOFOLLOW));
  if (!node.valid()) return Fail(c.error_fd, "open device mount point", target);
  // Read-only: the node is the host's own inode, and container root (CAP_CHOWN, CAP_FOWNER)
  // would otherwise chmod or chown it on the host. A device still opens for writing on a
  // read-only mount; only its metadata is frozen.
  if (!CloneTreeOnto(AT_FDCWD, step.source.c_str(), 0, kDeviceBindAttr, node.get())) {
    return Fail(c.error_fd, "bind device", step.source.c_str());
  }
  return true;
}

bool SymlinkStep(const RootfsStep& step, ChildRootfs& c) {
  const char* target = step.target.c_str();
  char parent[256];
  const char* leaf = SplitParent(target, parent);
  ChildFd parent_fd(OpenInRoot(c.root_fd, parent, O_PATH | O_DIRECTORY));
  if (!parent_fd.valid()) return Fail(c.error_fd, "open symlink directory", parent);
  if (::symlinkat(step.source.c_str(), parent_fd.get(), leaf) != 0 && errno != EEXIST) {
    return Fail(c.error_fd, "symlink", target);
  }
  return true;
}

// Masks and read-only paths, resolved beneath the container's own proc or sys mount. Absent
// there (ENOENT) means this kernel has no such file; anything else that stops the step stops
// the start.
bool BeneathStep(const RootfsStep& step, ChildRootfs& c) {
  const char* target = step.target.c_str();
  ChildFd fd;
  if (step.base == RootfsStep::Base::kRootfs) {
    // A path of the image (OCI maskedPaths/readonlyPaths outside /proc and /sys): resolved
    // inside the root, its symlinks too, so it can only ever cover something of the image.
    fd.reset(OpenInRoot(c.root_fd, target, O_PATH));
  } else {
    const ChildFd& base = step.base == RootfsStep::Base::kSys ? c.sys : c.proc;
    if (!base.valid()) return FailWith(c.error_fd, EBADF, "no proc or sys mount to mask beneath for", target);
    const char* beneath = target;
    while (*beneath != '\0' && *beneath != '/') ++beneath;  // "proc/kcore" -> "kcore"
    if (*beneath == '/') ++beneath;
    fd.reset(OpenBeneathMount(base.get(), beneath));
  }
  if (!fd.valid()) {
    if (errno == ENOENT) return true;  // nothing to hide on this kernel
    return Fail(c.error_fd, "open masked path", target);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Fail(c.error_fd, "stat", target);
  char proc_path[32];
  FdPath(fd.get(), proc_path);
  bool ok;
  if (step.kind == Kind::kReadOnly) {
    ok = CloneTreeOnto(fd.get(), "", AT_EMPTY_PATH,
                       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, fd.get());
  } else if (S_ISDIR(st.st_mode)) {
    ok = ::mount("tmpfs", proc_path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") == 0;
  } else {
    ok = CloneTreeOnto(AT_FDCWD, "/dev/null", 0, kDeviceBindAttr, fd.get());  // the host's node: read-only
  }
  if (!ok) return Fail(c.error_fd, step.kind == Kind::kReadOnly ? "make read-only" : "mask", target);
  return true;
}

bool RunStep(const RootfsStep& step, ChildRootfs& c) {
  switch (step.kind) {
    case Kind::kApiMount:
      return ApiMountStep(step, c);
    case Kind::kMount:
      return MountStep(step, c);
    case Kind::kBind:
      return BindStep(step, c);
    case Kind::kDevice:
      return DeviceStep(step, c);
    case Kind::kSymlink:
      return SymlinkStep(step, c);
    case Kind::kBindTree:
      return BindTreeStep(step, c);
    case Kind::kTmpfs:
      return TmpfsStep(step, c);
    case Kind::kMask:
    case Kind::kReadOnly:
      return BeneathStep(step, c);
  }
  return true;
}

}  // namespace

bool SetUpRootfsInChild(const RootfsPlan& plan, int error_fd, int stage_fd) {
  ChildFd stage(stage_fd);
  const char* rootfs = plan.rootfs.c_str();
  // Nothing we mount may propagate back to the host, and pivot_root refuses shared mounts.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Fail(error_fd, "make mounts private", "/");
  }
  // pivot_root needs the new root to be a mount point (and one the kernel has not locked: a
  // fresh bind of the staged rootfs, which lands over the stage, is not).
  const char* rootfs_source = plan.staged_rootfs.empty() ? rootfs : plan.staged_rootfs.c_str();
  if (::mount(rootfs_source, rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return Fail(error_fd, "bind rootfs", rootfs_source);
  }
  ChildRootfs c;
  c.error_fd = error_fd;
  c.stage_fd = stage.get();
  ChildFd root(::open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return Fail(error_fd, "open rootfs", rootfs);
  c.root_fd = root.get();
  // A device node shipped in the image (or made by an earlier run in its upper layer) does not
  // open: nodev on the rootfs and everything under it. nosuid stays off: setuid programs
  // inside a container are legitimate, and only raise privileges within it.
  struct mount_attr nodev = {};
  nodev.attr_set = MOUNT_ATTR_NODEV;
  if (::mount_setattr(root.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &nodev, sizeof(nodev)) != 0) {
    return Fail(error_fd, "make the rootfs nodev (mount_setattr)", rootfs);
  }
  for (const RootfsStep& step : plan.steps) {
    if (!RunStep(step, c)) return false;
  }
  c.proc.reset();
  c.sys.reset();
  stage.reset();
  if (plan.before_pivot != nullptr && !plan.before_pivot(plan.before_pivot_arg)) return false;
  // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the
  // container's tree (the trick runc and crun use; no put_old directory needed).
  if (::fchdir(root.get()) != 0) return Fail(error_fd, "chdir", rootfs);
  root.reset();
  if (sys::PivotRoot(".", ".") != 0) return Fail(error_fd, "pivot_root", rootfs);
  if (::umount2(".", MNT_DETACH) != 0) return Fail(error_fd, "detach old root", "/");
  if (::chdir("/") != 0) return Fail(error_fd, "chdir", "/");
  return true;
}

}  // namespace corral::runtime
