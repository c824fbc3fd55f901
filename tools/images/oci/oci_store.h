// OCI images in corral's image store: `corralctl image import NAME oci:DIR[:TAG] |
// oci-archive:FILE[:TAG] | docker-archive:FILE[:TAG]`, `image pull REF` (skopeo), `images`,
// `image rm`. Layers are unpacked once into IMAGES_DIR/layers/sha256/DIFF_ID (the sha256 of the
// uncompressed tar) and shared by every image that has them; an image is its record,
// IMAGES_DIR/NAME/image.json (oci_format.h), whose layers corrald mounts as overlay lowerdirs.
// Every blob's digest and size and every layer's diff_id are checked; a failed import leaves
// nothing behind. The store's changes are made under IMAGES_DIR/layers/.lock.
#ifndef CORRAL_TOOLS_IMAGES_OCI_OCI_STORE_H_
#define CORRAL_TOOLS_IMAGES_OCI_OCI_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/images/oci/oci_format.h"

namespace corral::images::oci {

struct ImageSource {
  enum class Kind { kOciDir, kOciArchive, kDockerArchive };
  Kind kind = Kind::kOciDir;
  std::string path;
  std::string tag;  // empty: the only image in it
};
// "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]", "docker-archive:FILE[:TAG]" (TAG holds no '/').
// NotFound-free: only the text is checked.
absl::StatusOr<ImageSource> ParseImageSource(absl::string_view text);
bool LooksLikeImageSource(absl::string_view text);

struct ImportOptions {
  std::string images_dir;
  // Where corrald keeps containers' configs (IMAGES_DIR/../containers): layers a container
  // still uses are never collected.
  std::string containers_dir;
  std::string name;
  std::string source;           // the text given
  std::string recorded_source;  // shown by `images` instead of `source` when set (pull)
  std::function<void(const std::string&)> log;  // one line per step; may be empty
};
struct ImportReport {
  ImageRecord record;
  int layers = 0;
  int unpacked = 0;  // layers new to the store
  int64_t unpacked_bytes = 0;
};
absl::StatusOr<ImportReport> ImportImage(const ImportOptions& options);

// The record of image NAME; NotFound when NAME is not an OCI image.
absl::StatusOr<ImageRecord> LoadRecord(const std::string& images_dir, const std::string& name);

struct StoreImage {
  std::string name;
  std::string kind;  // "oci" or "rootfs"
  std::string source;
  int layers = 0;
  int64_t bytes = 0;
  int64_t created_sec = 0;
  std::string path;  // the record or the rootfs
  ImageRecord record;  // kind "oci"
};
absl::StatusOr<std::vector<StoreImage>> ListStore(const std::string& images_dir);

struct RemoveReport {
  int layers_removed = 0;
  int layers_kept = 0;  // this image's layers other images or containers still use
};
// Removes image NAME (OCI or rootfs tree). FailedPrecondition while a container's config
// names it. Then the layers no image record and no container config refers to are removed.
absl::StatusOr<RemoveReport> RemoveImage(const std::string& images_dir, const std::string& containers_dir,
                                         const std::string& name);

// The layers no record or container uses (left by a crash between steps); removed count.
absl::StatusOr<int> CollectLayers(const std::string& images_dir, const std::string& containers_dir);

// IMAGES_DIR/../containers.
std::string DefaultContainersDir(const std::string& images_dir);

}  // namespace corral::images::oci

#endif  // CORRAL_TOOLS_IMAGES_OCI_OCI_STORE_H_
