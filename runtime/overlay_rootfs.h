// The root file system of a container of corrald's: one overlay of its image (a single tree, or
// an OCI image's layers) under the container's own upper layer, mounted at its rootfs path on
// the host. The one owner of that mount: made here, unmounted here (when the owner lets go,
// and after a supervisor that was killed before it could, by DetachLeftovers).
//
// In a user namespace (uid_base > 0) the upper layer belongs to the container's id range and
// each lower is an idmapped, read-only view of the shared, unshifted image, attached below
// `scratch` only while the overlay is made (overlay keeps private clones of its layers).
#ifndef CORRAL_RUNTIME_OVERLAY_ROOTFS_H_
#define CORRAL_RUNTIME_OVERLAY_ROOTFS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/phase_timer.h"

namespace corral::runtime {

struct OverlayRootfsSpec {
  std::string image_rootfs;               // a single-tree image, or
  std::vector<std::string> image_layers;  // an OCI image's layer directories, top first
  std::string upper, work;                // the container's own layer and overlay's work dir
  std::string target;                     // the rootfs path
  uint32_t uid_base = 0;                  // > 0: the container's range in its user namespace
  std::string scratch;                    // a directory of the run's for the idmapped lowers
  PhaseTimer* timer = nullptr;            // marks kIdmappedImage or kLayeredImage (optional)
};

class OverlayRootfs {
 public:
  // Mounts it (the directories exist). A leftover mount at the target (a supervisor that was
  // killed) is detached first.
  static absl::StatusOr<OverlayRootfs> Mount(const OverlayRootfsSpec& spec);

  OverlayRootfs(OverlayRootfs&& other) noexcept : target_(std::move(other.target_)) { other.target_.clear(); }
  OverlayRootfs& operator=(OverlayRootfs&& other) noexcept;
  ~OverlayRootfs() { Unmount(); }

  // Detaches the overlay (lazily: MNT_DETACH). Idempotent.
  void Unmount();

  // What a supervisor killed before its cleanup left: the overlay at `target` and the
  // idmapped image attached below `scratch`. Done from the same mount namespace.
  static void DetachLeftovers(const std::string& target, const std::string& scratch);
  // The idmapped single-tree image's attachment point below `scratch`.
  static std::string IdmappedImagePath(const std::string& scratch);

 private:
  explicit OverlayRootfs(std::string target) : target_(std::move(target)) {}
  std::string target_;  // empty once unmounted
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_OVERLAY_ROOTFS_H_
