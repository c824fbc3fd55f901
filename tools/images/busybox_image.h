// Building the busybox image the way LXC's busybox template does: Debian's static busybox,
// one link per applet, /sbin/init, passwd/group/inittab/hostname, and empty mount points.
#ifndef CORRAL_TOOLS_IMAGES_BUSYBOX_IMAGE_H_
#define CORRAL_TOOLS_IMAGES_BUSYBOX_IMAGE_H_

#include <string>

#include "absl/status/statusor.h"

namespace corral::images {

inline constexpr char kDefaultImagesDir[] = "/var/lib/corral/images";
inline constexpr char kBusyboxBinary[] = "/bin/busybox";

// Writes IMAGES_DIR/busybox/rootfs (replacing an older one atomically) and returns its path.
// `busybox_binary` must be a statically linked busybox (package busybox-static).
absl::StatusOr<std::string> BuildBusyboxImage(const std::string& images_dir,
                                              const std::string& busybox_binary = kBusyboxBinary);

}  // namespace corral::images

#endif  // CORRAL_TOOLS_IMAGES_BUSYBOX_IMAGE_H_
