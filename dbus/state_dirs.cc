#include "dbus/state_dirs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral::dbus {

namespace {

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// Cuts the group/other bits of an open directory to those of `mode`.
absl::Status Tighten(int fd, const std::string& path, mode_t mode) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(absl::StrCat("stat ", path));
  mode_t wanted = st.st_mode & (07700 | (mode & 077));
  if ((st.st_mode & 07777) == wanted) return absl::OkStatus();
  if (::fchmod(fd, wanted) != 0) return ErrnoError(absl::StrCat("chmod ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status EnsureDirectoryAtMost(const std::string& path, mode_t mode) {
  std::string parent = Parent(path);
  if (::access(parent.c_str(), F_OK) != 0) RETURN_IF_ERROR(MakeDirectories(parent, 0711));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return ErrnoError(absl::StrCat("mkdir ", path));
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return ErrnoError(absl::StrCat("open ", path));
  // mkdir's mode went through the umask, which may leave more than asked only if it was
  // looser; Tighten settles it either way.
  return Tighten(dir.get(), path, mode);
}

absl::Status SecureStateDirectories(const RegistryPaths& paths) {
  std::set<std::string> traversable = {Parent(paths.lib_root), Parent(paths.images_root), Parent(paths.run_root)};
  for (const std::string& dir : traversable) RETURN_IF_ERROR(EnsureDirectoryAtMost(dir, 0711));
  for (const std::string& dir : {paths.lib_root, paths.images_root}) RETURN_IF_ERROR(EnsureDirectoryAtMost(dir, 0700));
  // The root of an unprivileged container resolves its rootfs and bind sources below its own
  // run directory from the host's side: the directory above those is searchable (0711), each
  // container's is 0710 root:BASE (the supervisor's PrepareRunDir), so nobody else gets in.
  RETURN_IF_ERROR(EnsureDirectoryAtMost(paths.run_root, 0711));
  // Images an older corral made 0755; the store's own 0700 already shuts them, this keeps
  // each one shut should the store ever be opened again.
  UniqueFd images(::open(paths.images_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!images) return ErrnoError(absl::StrCat("open ", paths.images_root));
  DIR* listing = ::fdopendir(::dup(images.get()));
  if (listing == nullptr) return ErrnoError(absl::StrCat("list ", paths.images_root));
  absl::Status status;
  while (dirent* entry = ::readdir(listing)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    UniqueFd image(::openat(images.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!image) continue;  // a file or a symlink: not an image directory of ours
    status.Update(Tighten(image.get(), absl::StrCat(paths.images_root, "/", name), 0700));
  }
  ::closedir(listing);
  return status;
}

}  // namespace corral::dbus
