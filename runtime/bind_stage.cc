#include "runtime/bind_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace corral::runtime {

std::string BindStage::EntryName(size_t index) { return absl::StrCat(index); }

std::string BindStage::StagedRootfs(const std::string& rootfs) { return absl::StrCat(rootfs, "/root"); }

absl::StatusOr<BindStage> BindStage::Enter(const std::string& rootfs, bool stage_rootfs,
                                           const std::vector<BindTree>& trees) {
  BindStage stage;
  stage.original_ns_.reset(::open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC));
  if (!stage.original_ns_.valid()) return ErrnoError("stage the binds: open /proc/thread-self/ns/mnt");
  stage.original_cwd_.reset(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!stage.original_cwd_.valid()) stage.original_cwd_.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (::unshare(CLONE_NEWNS) != 0) {
    stage.original_ns_.reset();  // still in it: nothing to leave
    return ErrnoError("stage the binds: unshare(CLONE_NEWNS)");
  }
  // From here on `stage` going out of scope takes us back (the destructor).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return ErrnoError("stage the binds: make mounts private in the staging namespace");
  }
  UniqueFd rootfs_tree;
  if (stage_rootfs) {
    rootfs_tree.reset(static_cast<int>(
        ::open_tree(AT_FDCWD, rootfs.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
    if (!rootfs_tree.valid()) return ErrnoError(absl::StrCat("stage the binds: open_tree(OPEN_TREE_CLONE) of ", rootfs));
  }
  // 0711: the container's root (an unmapped stranger to host root's tmpfs) may pass through it,
  // and list nothing.
  if (::mount("tmpfs", rootfs.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0711,size=16k") != 0) {
    return ErrnoError(absl::StrCat("stage the binds: mount the staging tmpfs on ", rootfs));
  }
  UniqueFd dir(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoError(absl::StrCat("stage the binds: open the staging tmpfs at ", rootfs));
  auto attach = [&](int tree, const std::string& name, bool is_file) -> absl::Status {
    int rc = is_file ? ::mknodat(dir.get(), name.c_str(), S_IFREG | 0600, 0) : ::mkdirat(dir.get(), name.c_str(), 0700);
    if (rc != 0) return ErrnoError(absl::StrCat("stage the binds: create ", rootfs, "/", name, " in the staging tmpfs"));
    if (::move_mount(tree, "", dir.get(), name.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      return ErrnoError(absl::StrCat("stage the binds: attach (move_mount) at ", rootfs, "/", name));
    }
    return absl::OkStatus();
  };
  if (stage_rootfs) RETURN_IF_ERROR(attach(rootfs_tree.get(), "root", false));
  for (size_t i = 0; i < trees.size(); ++i) {
    RETURN_IF_ERROR(attach(trees[i].tree.get(), EntryName(i), trees[i].is_file));
  }
  return stage;
}

absl::Status BindStage::Leave() {
  if (!original_ns_.valid()) return absl::OkStatus();
  // The staging namespace goes with its last user: the child holds its own copy.
  if (::setns(original_ns_.get(), CLONE_NEWNS) != 0) return ErrnoError("leave the bind staging namespace (setns)");
  original_ns_.reset();
  if (original_cwd_.valid() && ::fchdir(original_cwd_.get()) != 0) {
    return ErrnoError("restore the working directory after staging the binds");
  }
  original_cwd_.reset();
  return absl::OkStatus();
}

BindStage::~BindStage() { Leave().IgnoreError(); }

}  // namespace corral::runtime
