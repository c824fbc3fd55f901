// Locked binds for containers in a user namespace: the parent stages the user's bind trees in a
// private mount namespace of its own (owned by the host's user namespace) just before the clone,
// so the container's mount namespace is a copy made into a less privileged user namespace and the
// kernel locks every staged mount's flags (read-only, nodev, nosuid stay; submounts stay).
#ifndef CORRAL_RUNTIME_BIND_STAGE_H_
#define CORRAL_RUNTIME_BIND_STAGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/binds.h"

namespace corral::runtime {

// Why: a mount made inside the container's own mount namespace (which its user namespace owns)
// can be remounted by the container's root: `mount -o remount,bind,rw` of a :ro bind, or
// mount_setattr clearing MOUNT_ATTR_RDONLY, succeeds for a booted systemd (CAP_SYS_ADMIN in its
// namespace). copy_mnt_ns into another user namespace (the clone with CLONE_NEWUSER|CLONE_NEWNS)
// marks each copied mount MNT_LOCK_READONLY/NODEV/NOSUID/... and its submounts MNT_LOCKED, as
// systemd-nspawn -U and LXC rely on. A bind clone of a locked mount keeps those locks, so the
// child clones each staged tree (open_tree) onto its target inside the rootfs.
//
// Layout while staged: a tmpfs (0711, host root's) over the rootfs path, holding "root" (a clone
// of the rootfs directory, when the rootfs is not brought in as an idmapped tree) and "0", "1", ...
// (the bind trees, in spec order; an empty file for a file bind). Only this parent and the child
// it clones ever see it: the namespace is private, and the child detaches it with the old root.
class BindStage {
 public:
  // Enters a new private mount namespace (unshare CLONE_NEWNS, then everything MS_PRIVATE: nothing
  // propagates to the host) and stages `trees` there. With `stage_rootfs` the rootfs directory is
  // staged too (as "root"). The caller clones the container, then calls Leave() at once.
  static absl::StatusOr<BindStage> Enter(const std::string& rootfs, bool stage_rootfs,
                                         const std::vector<BindTree>& trees);

  BindStage(BindStage&&) = default;
  BindStage& operator=(BindStage&&) = default;
  ~BindStage();  // leaves, if Leave() was not called

  // Back into the mount namespace the caller was in (setns), its working directory restored.
  absl::Status Leave();

  // The name of bind `index` inside the stage ("0", "1", ...).
  static std::string EntryName(size_t index);
  // The path of the staged rootfs for the child's bind of it: `rootfs`/root.
  static std::string StagedRootfs(const std::string& rootfs);

 private:
  BindStage() = default;
  UniqueFd original_ns_;
  UniqueFd original_cwd_;
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_BIND_STAGE_H_
