#include "runtime/binds.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/child_fd.h"

namespace corral::runtime {

const std::vector<std::string>& ForbiddenBindSources() {
  static const std::vector<std::string> kForbidden = {"/var/lib/corral", "/run/corral"};
  return kForbidden;
}

namespace {

bool IsUnder(const std::string& path, const std::string& dir) {
  return path == dir || (absl::StartsWith(path, dir) && path[dir.size()] == '/');
}

// One mount_setattr for the whole tree: every submount gets the same flags, so a read-only
// bind has no writable mount below it, and nothing mounted inside later reaches the host.
absl::Status ConfigureTree(int tree, const BindSpec& bind, int userns_fd, const std::string& what,
                           const std::string& real_path) {
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | (bind.read_only ? MOUNT_ATTR_RDONLY : 0);
  attr.propagation = MS_PRIVATE;
  if (bind.idmap) {
    attr.attr_set |= MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(userns_fd);
  }
  if (::mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) != 0) {
    int err = errno;
    absl::Status status = ErrnoError(err, absl::StrCat(what, ": mount_setattr", bind.idmap ? " MOUNT_ATTR_IDMAP" : "",
                                                       bind.read_only ? " MOUNT_ATTR_RDONLY" : "", " of ", real_path));
    if (bind.idmap && (err == EINVAL || err == EPERM || err == EOPNOTSUPP)) {
      status = Annotate(status, absl::StrCat("the file system of ", real_path,
                                             " (or of a mount below it) cannot be idmapped, or is idmapped already; "
                                             "drop idmap"));
    }
    return status;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BindTree> OpenBindTree(const BindSpec& bind, int userns_fd) {
  const std::string what = absl::StrCat("bind ", bind.source, " on ", bind.target);
  auto refuse_state = [&](const std::string& path) -> absl::Status {
    if (bind.corral_store) return absl::OkStatus();
    for (const std::string& dir : ForbiddenBindSources()) {
      if (IsUnder(path, dir)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": the source ", path, " is inside corral's own state (", dir,
            "), which holds other containers' files; use a named volume (--volume) to share data"));
      }
    }
    return absl::OkStatus();
  };
  if (bind.idmap && userns_fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": idmap needs the container's user namespace; a --privileged container has none (drop idmap)"));
  }
  BindTree out;
  if (bind.ready_tree >= 0) {
    out.tree.reset(::fcntl(bind.ready_tree, F_DUPFD_CLOEXEC, 0));
    if (!out.tree.valid()) return ErrnoError(absl::StrCat(what, ": dup the volume's mount"));
    RETURN_IF_ERROR(ConfigureTree(out.tree.get(), bind, userns_fd, what, bind.source));
    return out;
  }
  RETURN_IF_ERROR(refuse_state(bind.source));  // by its name first, so a missing one says so too
  UniqueFd source(::open(bind.source.c_str(), O_PATH | O_CLOEXEC));
  if (!source.valid()) return ErrnoError(absl::StrCat(what, ": open the source ", bind.source));
  // Where the source really is, its host symlinks followed: what the checks look at is what
  // gets cloned (the fd), not a path that could change in between.
  char link[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", source.get());
  char real[4096];
  ssize_t n = ::readlink(link, real, sizeof(real) - 1);
  if (n < 0) return ErrnoError(absl::StrCat(what, ": readlink ", link));
  real[n] = '\0';
  std::string real_path(real);
  RETURN_IF_ERROR(refuse_state(real_path));
  struct stat st;
  if (::fstat(source.get(), &st) != 0) return ErrnoError(absl::StrCat(what, ": fstat ", real_path));
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the source ", real_path, " is neither a directory nor a regular file (devices: --device)"));
  }
  out.is_file = !S_ISDIR(st.st_mode);
  out.tree.reset(static_cast<int>(
      ::open_tree(source.get(), "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
  if (!out.tree.valid()) return ErrnoError(absl::StrCat(what, ": open_tree(OPEN_TREE_CLONE|AT_RECURSIVE) of ", real_path));
  RETURN_IF_ERROR(ConfigureTree(out.tree.get(), bind, userns_fd, what, real_path));
  return out;
}

// ---- Child side: between clone and exec, no allocation. ----
namespace {

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

}  // namespace

int MakeMountPointInChild(int root_fd, const char* target, bool is_file) {
  int fd = OpenInRoot(root_fd, target, O_PATH);
  if (fd >= 0 || errno != ENOENT) return fd;
  // mkdir -p, one component at a time: each parent is resolved inside the root again, so a
  // component that is a symlink is followed only within it.
  char prefix[256];
  size_t n = 0;
  for (size_t i = 0;; ++i) {
    char c = target[i];
    if (c != '/' && c != '\0') {
      if (n + 1 >= sizeof(prefix)) {
        errno = ENAMETOOLONG;
        return -1;
      }
      prefix[n++] = c;
      continue;
    }
    prefix[n] = '\0';
    if (n == 0) continue;
    size_t leaf_start = n;
    while (leaf_start > 0 && prefix[leaf_start - 1] != '/') --leaf_start;
    ChildFd existing(OpenInRoot(root_fd, prefix, O_PATH));
    if (!existing.valid()) {
      if (errno != ENOENT) return -1;
      ChildFd parent;
      if (leaf_start == 0) {
        parent.reset(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
      } else {
        prefix[leaf_start - 1] = '\0';
        parent.reset(OpenInRoot(root_fd, prefix, O_PATH | O_DIRECTORY));
        prefix[leaf_start - 1] = '/';
      }
      if (!parent.valid()) return -1;
      bool last = c == '\0';
      int rc = last && is_file ? ::mknodat(parent.get(), prefix + leaf_start, S_IFREG | 0644, 0)
                               : ::mkdirat(parent.get(), prefix + leaf_start, 0755);
      if (rc != 0 && errno != EEXIST) return -1;
    }
    if (c == '\0') break;
    prefix[n++] = '/';
  }
  return OpenInRoot(root_fd, target, O_PATH);
}

int AttachBindInChild(int root_fd, const char* target, bool is_file, int tree_fd, const char** step) {
  ChildFd point(MakeMountPointInChild(root_fd, target, is_file));
  if (!point.valid()) {
    // ENOENT after making it: a symlink there leads to nothing inside the rootfs.
    *step = errno == ENOENT ? "create the bind's mount point (a symlink there leads nowhere inside the rootfs)"
                            : "create the bind's mount point";
    return errno;
  }
  struct stat st;
  if (::fstat(point.get(), &st) != 0) {
    *step = "stat the bind's mount point";
    return errno;
  }
  if (S_ISDIR(st.st_mode) == is_file) {
    *step = is_file ? "bind a file: the mount point inside is a directory"
                    : "bind a directory: the mount point inside is not a directory";
    return is_file ? EISDIR : ENOTDIR;
  }
  if (::move_mount(tree_fd, "", point.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
    *step = "attach the bind (move_mount)";
    return errno;
  }
  return 0;
}

}  // namespace corral::runtime
