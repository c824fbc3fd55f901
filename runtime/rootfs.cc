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

#include "common/syscalls.h"
#include "runtime/child_error.h"

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

RootfsStep Mount(std::string target, std::string fstype, unsigned long flags, std::string data) {
  RootfsStep step{Kind::kMount, std::move(target)};
  step.source = step.fstype = std::move(fstype);
  step.flags = flags;
  step.data = std::move(data);
  return step;
}

RootfsStep Device(std::string target, unsigned major, unsigned minor) {
  RootfsStep step{Kind::kDevice, std::move(target)};
  step.source = "/" + step.target;  // the host's node, for the bind fallback
  step.mode = S_IFCHR | 0666;
  step.device = makedev(major, minor);
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

}  // namespace

RootfsPlan MakeRootfsPlan(const ContainerSpec& spec, const std::string& console_path) {
  RootfsPlan plan;
  plan.rootfs = spec.rootfs;
  std::vector<RootfsStep>& s = plan.steps;
  constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

  s.push_back(Mount("proc", "proc", kNoSuidDevExec, ""));
  RootfsStep sys = Mount("sys", "sysfs", kNoSuidDevExec | MS_RDONLY, "");
  sys.source = "sysfs";
  s.push_back(sys);
  s.push_back(Mount("dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"));
  for (auto [name, major, minor] : {std::tuple{"dev/null", 1u, 3u}, {"dev/zero", 1u, 5u}, {"dev/full", 1u, 7u},
                                    {"dev/random", 1u, 8u}, {"dev/urandom", 1u, 9u}, {"dev/tty", 5u, 0u}}) {
    s.push_back(Device(name, major, minor));
  }
  RootfsStep pts = Mount("dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  pts.source = "devpts";
  s.push_back(pts);
  s.push_back(Symlink("dev/ptmx", "pts/ptmx"));
  s.push_back(Symlink("dev/fd", "/proc/self/fd"));
  s.push_back(Symlink("dev/stdin", "/proc/self/fd/0"));
  s.push_back(Symlink("dev/stdout", "/proc/self/fd/1"));
  s.push_back(Symlink("dev/stderr", "/proc/self/fd/2"));
  RootfsStep shm = Mount("dev/shm", "tmpfs", kNoSuidDevExec, "mode=1777,size=65536k");
  shm.source = "shm";
  s.push_back(shm);
  RootfsStep mqueue = Mount("dev/mqueue", "mqueue", kNoSuidDevExec, "");
  mqueue.source = "mqueue";
  s.push_back(mqueue);
  if (!console_path.empty()) {
    RootfsStep console{Kind::kBind, "dev/console"};
    console.source = console_path;
    console.target_is_file = true;
    s.push_back(console);
  }
  s.push_back(Mount("run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k"));
  s.push_back(Mount("tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));

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

  for (const std::string& path : MaskedPaths()) {
    RootfsStep step{Kind::kMaskFile, path};
    step.optional = true;
    s.push_back(step);
  }
  for (const std::string& path : ReadOnlyPaths()) {
    RootfsStep step{Kind::kReadOnly, path};
    step.optional = true;
    s.push_back(step);
  }
  return plan;
}

// ---- Child side: everything below runs between clone and exec and must not allocate. ----
namespace {

// Writes "/proc/self/fd/<fd>" into buf.
void FdPath(int fd, char (&buf)[32]) {
  static constexpr char kPrefix[] = "/proc/self/fd/";
  size_t n = 0;
  for (; kPrefix[n] != '\0'; ++n) buf[n] = kPrefix[n];
  char digits[12];
  int d = 0;
  unsigned v = static_cast<unsigned>(fd);
  do {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (d > 0) buf[n++] = digits[--d];
  buf[n] = '\0';
}

// Resolves `path` inside the root `root_fd`; symlinks and ".." cannot leave it.
int OpenInRoot(int root_fd, const char* path, int flags) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd;
  do {
    fd = sys::Openat2(root_fd, path, &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);
  return fd;
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

// Creates the mount point (a directory, or an empty file) if it is missing; resolution of the
// parent stays inside the root.
int EnsureMountPoint(int root_fd, const char* target, bool is_file) {
  int fd = OpenInRoot(root_fd, target, O_PATH);
  if (fd >= 0 || errno != ENOENT) return fd;
  char parent[256];
  const char* leaf = SplitParent(target, parent);
  int parent_fd = OpenInRoot(root_fd, parent, O_PATH | O_DIRECTORY);
  if (parent_fd < 0) return -1;
  int rc;
  if (is_file) {
    rc = ::mknodat(parent_fd, leaf, S_IFREG | 0644, 0);
  } else {
    rc = ::mkdirat(parent_fd, leaf, 0755);
  }
  int saved = errno;
  ::close(parent_fd);
  if (rc != 0 && saved != EEXIST) {
    errno = saved;
    return -1;
  }
  return OpenInRoot(root_fd, target, O_PATH);
}

bool Fail(int error_fd, const char* step, const char* path) {
  ReportChildError(error_fd, step, path, errno);
  return false;
}

bool BindReadOnly(const char* proc_path, unsigned long extra_flags) {
  // A remount sets every per-mount flag anew; in a user namespace the nosuid, nodev, noexec
  // and atime flags of a bind of a host mount are locked and clearing one is EPERM, so the
  // mount's current ones are kept (statfs reports them; it allocates nothing).
  struct statfs fs;
  if (::statfs(proc_path, &fs) == 0 && (fs.f_flags & 0x0020 /* ST_VALID: f_flags is filled in */)) {
    if (fs.f_flags & ST_NOSUID) extra_flags |= MS_NOSUID;
    if (fs.f_flags & ST_NODEV) extra_flags |= MS_NODEV;
    if (fs.f_flags & ST_NOEXEC) extra_flags |= MS_NOEXEC;
    if (fs.f_flags & ST_NOATIME) extra_flags |= MS_NOATIME;
    if (fs.f_flags & ST_NODIRATIME) extra_flags |= MS_NODIRATIME;
    if (fs.f_flags & ST_RELATIME) extra_flags |= MS_RELATIME;
  }
  return ::mount(nullptr, proc_path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | extra_flags, nullptr) == 0;
}

bool RunStep(const RootfsStep& step, int root_fd, int error_fd) {
  const char* target = step.target.c_str();
  char proc_path[32];
  switch (step.kind) {
    case Kind::kMount:
    case Kind::kBind: {
      int fd = EnsureMountPoint(root_fd, target, step.target_is_file);
      if (fd < 0) {
        if (step.optional && errno == ENOENT) return true;
        return Fail(error_fd, "create mount point", target);
      }
      FdPath(fd, proc_path);
      int rc;
      if (step.kind == Kind::kBind) {
        rc = ::mount(step.source.c_str(), proc_path, nullptr, MS_BIND | MS_REC, nullptr);
        if (rc == 0 && (step.flags & MS_RDONLY)) {
          // A new mount on the same fd path: re-resolve so the remount hits the bind, not the
          // directory under it.
          ::close(fd);
          fd = OpenInRoot(root_fd, target, O_PATH);
          if (fd < 0) return Fail(error_fd, "reopen bind mount", target);
          FdPath(fd, proc_path);
          rc = BindReadOnly(proc_path, 0) ? 0 : -1;
        }
      } else {
        rc = ::mount(step.source.c_str(), proc_path, step.fstype.c_str(), step.flags,
                     step.data.empty() ? nullptr : step.data.c_str());
        // sysfs cannot be mounted fresh in a network namespace we do not own: bind the host's.
        if (rc != 0 && (errno == EPERM || errno == EACCES) && step.fstype == "sysfs") {
          rc = ::mount("/sys", proc_path, nullptr, MS_BIND | MS_REC, nullptr);
          if (rc == 0) {
            ::close(fd);
            fd = OpenInRoot(root_fd, target, O_PATH);
            FdPath(fd, proc_path);
            rc = BindReadOnly(proc_path, MS_NOSUID | MS_NODEV | MS_NOEXEC) ? 0 : -1;
          }
        }
      }
      int saved = errno;
      ::close(fd);
      errno = saved;
      if (rc != 0) {
        if (step.optional && errno == ENOENT) return true;
        return Fail(error_fd, step.kind == Kind::kBind ? "bind mount" : "mount", target);
      }
      return true;
    }
    case Kind::kDevice: {
      char parent[256];
      const char* leaf = SplitParent(target, parent);
      int parent_fd = OpenInRoot(root_fd, parent, O_PATH | O_DIRECTORY);
      if (parent_fd < 0) return Fail(error_fd, "open device directory", parent);
      int rc = ::mknodat(parent_fd, leaf, step.mode, step.device);
      if (rc == 0) {
        // mknod applies the umask; devices must be usable by every user.
        char leaf_path[32];
        int node = ::openat(parent_fd, leaf, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (node >= 0) {
          FdPath(node, leaf_path);
          ::chmod(leaf_path, step.mode & 07777);
          ::close(node);
        }
      } else if (errno == EPERM) {
        // Inside a user namespace mknod is denied: bind the host's node instead.
        rc = ::mknodat(parent_fd, leaf, S_IFREG | 0644, 0);
        int node = rc == 0 ? ::openat(parent_fd, leaf, O_PATH | O_CLOEXEC | O_NOFOLLOW) : -1;
        if (node >= 0) {
          FdPath(node, proc_path);
          rc = ::mount(step.source.c_str(), proc_path, nullptr, MS_BIND, nullptr);
          ::close(node);
        } else {
          rc = -1;
        }
      }
      int saved = errno;
      ::close(parent_fd);
      errno = saved;
      if (rc != 0) return Fail(error_fd, "create device", target);
      return true;
    }
    case Kind::kSymlink: {
      char parent[256];
      const char* leaf = SplitParent(target, parent);
      int parent_fd = OpenInRoot(root_fd, parent, O_PATH | O_DIRECTORY);
      if (parent_fd < 0) return Fail(error_fd, "open symlink directory", parent);
      int rc = ::symlinkat(step.source.c_str(), parent_fd, leaf);
      int saved = errno;
      ::close(parent_fd);
      errno = saved;
      if (rc != 0 && errno != EEXIST) return Fail(error_fd, "symlink", target);
      return true;
    }
    case Kind::kMaskFile:
    case Kind::kMaskDir:
    case Kind::kReadOnly: {
      int fd = OpenInRoot(root_fd, target, O_PATH);
      if (fd < 0) {
        if (errno == ENOENT) return true;  // nothing to hide on this kernel
        return Fail(error_fd, "open masked path", target);
      }
      struct stat st;
      if (::fstat(fd, &st) != 0) {
        ::close(fd);
        return Fail(error_fd, "stat", target);
      }
      FdPath(fd, proc_path);
      int rc;
      if (step.kind == Kind::kReadOnly) {
        rc = ::mount(proc_path, proc_path, nullptr, MS_BIND | MS_REC, nullptr);
        if (rc == 0) {
          ::close(fd);
          fd = OpenInRoot(root_fd, target, O_PATH);
          FdPath(fd, proc_path);
          rc = BindReadOnly(proc_path, MS_NOSUID | MS_NODEV | MS_NOEXEC) ? 0 : -1;
        }
      } else if (S_ISDIR(st.st_mode)) {
        rc = ::mount("tmpfs", proc_path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
      } else {
        rc = ::mount("/dev/null", proc_path, nullptr, MS_BIND, nullptr);
      }
      int saved = errno;
      ::close(fd);
      errno = saved;
      if (rc != 0) return Fail(error_fd, step.kind == Kind::kReadOnly ? "make read-only" : "mask", target);
      return true;
    }
  }
  return true;
}

}  // namespace

bool SetUpRootfsInChild(const RootfsPlan& plan, int error_fd) {
  const char* rootfs = plan.rootfs.c_str();
  // Nothing we mount may propagate back to the host, and pivot_root refuses shared mounts.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Fail(error_fd, "make mounts private", "/");
  }
  // pivot_root needs the new root to be a mount point.
  if (::mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return Fail(error_fd, "bind rootfs", rootfs);
  }
  int root_fd = ::open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return Fail(error_fd, "open rootfs", rootfs);
  for (const RootfsStep& step : plan.steps) {
    if (!RunStep(step, root_fd, error_fd)) {
      ::close(root_fd);
      return false;
    }
  }
  // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the
  // container's tree (the trick runc and crun use; no put_old directory needed).
  if (::fchdir(root_fd) != 0) return Fail(error_fd, "chdir", rootfs);
  ::close(root_fd);
  if (sys::PivotRoot(".", ".") != 0) return Fail(error_fd, "pivot_root", rootfs);
  if (::umount2(".", MNT_DETACH) != 0) return Fail(error_fd, "detach old root", "/");
  if (::chdir("/") != 0) return Fail(error_fd, "chdir", "/");
  return true;
}

}  // namespace corral::runtime
