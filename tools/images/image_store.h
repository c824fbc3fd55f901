// The image store, /var/lib/corral/images/NAME/rootfs: building an image's tree next to its
// old one and swapping it in (readers never see half an image), listing, names.
#ifndef CORRAL_TOOLS_IMAGES_IMAGE_STORE_H_
#define CORRAL_TOOLS_IMAGES_IMAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::images {

// Image names follow container names: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}, but for "layers" (the
// OCI layer store, IMAGES_DIR/layers).
absl::Status ValidateImageName(absl::string_view name);

// Makes `path` a directory only its owner (root) may enter: created 0700, or, with
// `tighten_existing`, tightened to 0700 when it exists with group or other bits (an image an
// older corral made). Missing parents are made 0711 (traversable, not listable).
absl::Status MakePrivateDirectory(const std::string& path, bool tighten_existing);

// Runs `build` on a fresh staging directory IMAGES_DIR/NAME/rootfs.new.PID, then makes it
// IMAGES_DIR/NAME/rootfs, replacing an older tree. On failure nothing of the new tree is left
// and the old one stays. IMAGES_DIR/NAME is made 0700 first (IMAGES_DIR too when it is
// created), so no other user reaches the tree, ever. Returns the rootfs path.
absl::StatusOr<std::string> BuildImage(const std::string& images_dir, const std::string& name,
                                       const std::function<absl::Status(const std::string& staging)>& build);

struct ImageInfo {
  std::string name;
  std::string rootfs;
  uint64_t bytes = 0;        // disk usage of the tree (allocated blocks)
  int64_t created_sec = 0;   // when its rootfs was put in place
};
absl::StatusOr<std::vector<ImageInfo>> ListImages(const std::string& images_dir);

// Runs argv (stdout and stderr to ours, so the user sees debootstrap's or tar's progress);
// an error names the program and its exit status.
// With progress enabled (tools/images/progress.h: stderr a terminal, no --quiet) a status line
// instead, `progress` saying what it shows.
struct RunProgress;
absl::Status RunProgram(const std::vector<std::string>& argv);
absl::Status RunProgram(const std::vector<std::string>& argv, const RunProgress& progress);

}  // namespace corral::images

#endif  // CORRAL_TOOLS_IMAGES_IMAGE_STORE_H_
