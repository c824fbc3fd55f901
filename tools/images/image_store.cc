#include "tools/images/image_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "runtime/spec.h"
#include "tools/images/progress.h"

namespace corral::images {

absl::Status ValidateImageName(absl::string_view name) {
  // IMAGES_DIR/layers is the OCI layer store (tools/images/oci/oci_store.h).
  if (name == "layers") return absl::InvalidArgumentError("\"layers\" is the layer store's name, not an image's");
  absl::Status valid = runtime::ValidateContainerName(name);
  if (valid.ok()) return valid;
  return absl::InvalidArgumentError(absl::StrCat("invalid image name \"", name, "\""));
}

absl::Status MakePrivateDirectory(const std::string& path, bool tighten_existing) {
  // Missing parents get 0711: traversable, not listable (what /var/lib/corral itself wants).
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) RETURN_IF_ERROR(MakeDirectories(path.substr(0, slash), 0711));
  if (::mkdir(path.c_str(), 0700) == 0) return absl::OkStatus();
  if (errno != EEXIST) return ErrnoError(absl::StrCat("mkdir ", path));
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return ErrnoError(absl::StrCat("open ", path));
  struct stat st;
  if (::fstat(dir.get(), &st) != 0) return ErrnoError(absl::StrCat("stat ", path));
  if (tighten_existing && (st.st_mode & 077) != 0 && ::fchmod(dir.get(), st.st_mode & 07700) != 0) {
    return ErrnoError(absl::StrCat("chmod 0700 ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BuildImage(const std::string& images_dir, const std::string& name,
                                       const std::function<absl::Status(const std::string& staging)>& build) {
  RETURN_IF_ERROR(ValidateImageName(name));
  std::string image_dir = absl::StrCat(images_dir, "/", name);
  std::string rootfs = absl::StrCat(image_dir, "/rootfs");
  std::string staging = absl::StrCat(image_dir, "/rootfs.new.", ::getpid());
  // An image is root's: its tree keeps the image's setuid binaries and modes, and a path
  // another user could walk to would run them with euid 0 on the host (moby's CVE-2021-41091).
  // So each image directory is 0700 before the first file of the tree exists (also one an
  // older corral made 0755), and a store we create is 0700 too. An existing store directory
  // keeps its mode: it may be one the caller chose (--images-dir); install.sh and corrald
  // tighten the default one.
  RETURN_IF_ERROR(MakePrivateDirectory(images_dir, /*tighten_existing=*/false));
  struct stat existing;
  const bool new_image = ::stat(image_dir.c_str(), &existing) != 0;
  RETURN_IF_ERROR(MakePrivateDirectory(image_dir, /*tighten_existing=*/true));
  RETURN_IF_ERROR(IgnoreNotFound(RemoveTree(staging)));
  absl::Status status = MakeDirectories(staging, 0755);
  if (status.ok()) status = build(staging);
  if (!status.ok()) {
    RemoveTree(staging).IgnoreError();
    // A failed build of a new image leaves no empty image behind (nothing created).
    if (new_image) ::rmdir(image_dir.c_str());
    return Annotate(status, absl::StrCat("build image ", name));
  }
  // Swap in the new tree: rename over an absent target is atomic; an old tree is moved aside.
  std::string old = absl::StrCat(image_dir, "/rootfs.old.", ::getpid());
  bool had_old = ::rename(rootfs.c_str(), old.c_str()) == 0;
  if (::rename(staging.c_str(), rootfs.c_str()) != 0) {
    absl::Status err = ErrnoError(absl::StrCat("rename ", staging, " to ", rootfs));
    if (had_old) ::rename(old.c_str(), rootfs.c_str());
    RemoveTree(staging).IgnoreError();
    return err;
  }
  if (had_old) RETURN_IF_ERROR(RemoveTree(old));
  return rootfs;
}

namespace {

// nftw has no user pointer; the walk is single-threaded and short-lived.
thread_local uint64_t walked_bytes = 0;

int AddSize(const char*, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_F || type == FTW_SL || type == FTW_D) walked_bytes += static_cast<uint64_t>(st->st_blocks) * 512;
  return 0;
}

}  // namespace

absl::StatusOr<std::vector<ImageInfo>> ListImages(const std::string& images_dir) {
  std::vector<ImageInfo> images;
  DIR* dir = ::opendir(images_dir.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return images;
    if (errno == EACCES) {
      return ErrnoError(EACCES, absl::StrCat("open ", images_dir, " (the image store is root's)"));
    }
    return ErrnoError(absl::StrCat("open ", images_dir));
  }
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    ImageInfo info{name, absl::StrCat(images_dir, "/", name, "/rootfs")};
    struct stat st;
    if (::stat(info.rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    info.created_sec = st.st_ctime;
    walked_bytes = 0;
    ::nftw(info.rootfs.c_str(), AddSize, 32, FTW_PHYS | FTW_MOUNT);
    info.bytes = walked_bytes;
    images.push_back(std::move(info));
  }
  ::closedir(dir);
  std::sort(images.begin(), images.end(), [](const ImageInfo& a, const ImageInfo& b) { return a.name < b.name; });
  return images;
}

absl::Status RunProgram(const std::vector<std::string>& argv, const RunProgress& progress) {
  if (ProgressEnabled()) return RunProgramWithProgress(argv, progress);
  return RunProgram(argv);
}

absl::Status RunProgram(const std::vector<std::string>& argv) {
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError("fork");
  if (pid == 0) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  std::string how = WIFEXITED(status) ? absl::StrCat("exited with status ", WEXITSTATUS(status))
                                      : absl::StrCat("was killed by signal ", WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) how = "could not be run (is it installed?)";
  return absl::InternalError(absl::StrCat(argv[0], " ", how, " (", absl::StrJoin(argv, " "), ")"));
}

}  // namespace corral::images
