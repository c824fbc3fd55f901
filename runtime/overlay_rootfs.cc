#include "runtime/overlay_rootfs.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "runtime/layered_overlay.h"
#include "runtime/userns.h"

namespace corral::runtime {
namespace {

// The upper layer belongs to the container's range. A fresh one is empty: only its top is
// chowned. One written before the container had a range (corral without user namespaces) is
// shifted by the base once, here (`shift`); its top goes last, so a top owned by the base means
// nothing is left to do, and a start costs one stat.
absl::Status GiveUpperToRange(const std::string& upper, uint32_t base, bool shift) {
  struct stat st;
  if (::stat(upper.c_str(), &st) != 0) return ErrnoError(absl::StrCat("stat ", upper));
  if (st.st_uid == base && st.st_gid == base) return absl::OkStatus();
  if (shift) {
    RETURN_IF_ERROR(Annotate(ShiftOwnership(upper, base), "give the overlay's upper layer to the container's uid range"));
  }
  if (::chown(upper.c_str(), base, base) != 0) return ErrnoError(absl::StrCat("chown ", upper));
  return absl::OkStatus();
}

absl::Status MountLayers(const OverlayRootfsSpec& spec) {
  LayeredOverlay overlay;
  overlay.lowers = spec.image_layers;
  overlay.upper = spec.upper;
  overlay.work = spec.work;
  overlay.target = spec.target;
  UniqueFd ns;
  if (spec.uid_base > 0) {
    RETURN_IF_ERROR(GiveUpperToRange(spec.upper, spec.uid_base, /*shift=*/false));
    ASSIGN_OR_RETURN(ns, MakeUserNamespace(BlockMap(spec.uid_base), BlockMap(spec.uid_base)));
    overlay.userns_fd = ns.get();
    overlay.scratch = spec.scratch + "/layers";
  }
  RETURN_IF_ERROR(Annotate(MountLayeredOverlay(overlay), absl::StrCat("mount the overlay rootfs at ", spec.target)));
  if (spec.timer) spec.timer->Mark(Phase::kLayeredImage);
  return absl::OkStatus();
}

absl::Status MountSingleTree(const OverlayRootfsSpec& spec) {
  std::string lower = spec.image_rootfs;
  std::string idmapped_lower;
  if (spec.uid_base > 0) {
    RETURN_IF_ERROR(GiveUpperToRange(spec.upper, spec.uid_base, /*shift=*/true));
    // The image stays unshifted and shared: the overlay's lower layer is an idmapped,
    // read-only view of it, attached for the overlay mount only.
    ASSIGN_OR_RETURN(UniqueFd ns, MakeUserNamespace(BlockMap(spec.uid_base), BlockMap(spec.uid_base)));
    absl::StatusOr<UniqueFd> tree = OpenIdmappedTree(lower, ns.get(), /*read_only=*/true);
    if (!tree.ok()) return Annotate(tree.status(), absl::StrCat("mount the overlay rootfs at ", spec.target));
    idmapped_lower = OverlayRootfs::IdmappedImagePath(spec.scratch);
    RETURN_IF_ERROR(MakeDirectories(idmapped_lower, 0700));
    ::umount2(idmapped_lower.c_str(), MNT_DETACH);  // a leftover of a start that was killed
    RETURN_IF_ERROR(AttachTree(tree->get(), idmapped_lower));
    lower = idmapped_lower;
    if (spec.timer) spec.timer->Mark(Phase::kIdmappedImage);
  }
  std::string options = absl::StrCat("lowerdir=", lower, ",upperdir=", spec.upper, ",workdir=", spec.work);
  int rc = ::mount("overlay", spec.target.c_str(), "overlay", 0, options.c_str());
  int err = errno;
  if (!idmapped_lower.empty()) ::umount2(idmapped_lower.c_str(), MNT_DETACH);
  if (rc == 0) return absl::OkStatus();
  absl::Status status = ErrnoError(err, absl::StrCat("mount the overlay rootfs at ", spec.target, " (", options, ")"));
  if (!idmapped_lower.empty() && (err == EINVAL || err == EOPNOTSUPP || err == EPERM)) {
    status = Annotate(status, absl::StrCat("overlay on the idmapped image ", spec.image_rootfs,
                                           " (needs Linux >= 5.19; a --privileged container does not)"));
  }
  return status;
}

}  // namespace

absl::StatusOr<OverlayRootfs> OverlayRootfs::Mount(const OverlayRootfsSpec& spec) {
  ::umount2(spec.target.c_str(), MNT_DETACH);  // a leftover of a supervisor that was killed
  if (!spec.image_layers.empty()) {
    RETURN_IF_ERROR(MountLayers(spec));
  } else {
    RETURN_IF_ERROR(MountSingleTree(spec));
  }
  return OverlayRootfs(spec.target);
}

OverlayRootfs& OverlayRootfs::operator=(OverlayRootfs&& other) noexcept {
  if (this != &other) {
    Unmount();
    target_ = std::move(other.target_);
    other.target_.clear();
  }
  return *this;
}

void OverlayRootfs::Unmount() {
  if (target_.empty()) return;
  ::umount2(target_.c_str(), MNT_DETACH);
  target_.clear();
}

void OverlayRootfs::DetachLeftovers(const std::string& target, const std::string& scratch) {
  ::umount2(target.c_str(), MNT_DETACH);
  ::umount2(IdmappedImagePath(scratch).c_str(), MNT_DETACH);
}

std::string OverlayRootfs::IdmappedImagePath(const std::string& scratch) { return scratch + "/lower"; }

}  // namespace corral::runtime
