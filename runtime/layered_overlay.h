// The root file system of a container made from a layered (OCI) image: one overlay whose
// lower layers are the image's layer directories, shared read-only by every container of every
// image that has them, over the container's own upper layer. In a user namespace each layer
// is an idmapped, read-only view, as the single-tree images are (dbus/supervisor.cc).
#ifndef CORRAL_RUNTIME_LAYERED_OVERLAY_H_
#define CORRAL_RUNTIME_LAYERED_OVERLAY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace corral::runtime {

struct LayeredOverlay {
  std::vector<std::string> lowers;  // top first, as overlay's lowerdir lists them
  std::string upper, work;
  std::string target;
  // >= 0: each lower is seen through an idmapped mount with this user namespace's map,
  // attached under `scratch` (SCRATCH/0, SCRATCH/1, ...: short paths) while the overlay is made
  // and detached right after (overlay keeps private clones).
  int userns_fd = -1;
  std::string scratch;
  unsigned int mount_attrs = 0;  // MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, ... of the new mount
};

// Mounts it at `target` with the new mount API: each layer passed on its own (fsconfig
// "lowerdir+", Linux 6.8), so a deep image is bounded by overlay's 500 layers, not by the page
// a mount option string must fit in. On an older kernel the classic "lowerdir=a:b:c" string
// is used when it fits. Errors name the step, the layer and errno.
absl::Status MountLayeredOverlay(const LayeredOverlay& overlay);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_LAYERED_OVERLAY_H_
