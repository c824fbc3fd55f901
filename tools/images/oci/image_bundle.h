// Reading an image source for import (tools/images/oci/oci_store.h): the bundle (an OCI layout
// directory, or an oci-archive or docker-archive read in place) and the plan of its layers.
#ifndef CORRAL_TOOLS_IMAGES_OCI_IMAGE_BUNDLE_H_
#define CORRAL_TOOLS_IMAGES_OCI_IMAGE_BUNDLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"
#include "tools/images/oci/layer_unpack.h"
#include "tools/images/oci/oci_format.h"
#include "tools/images/oci/oci_store.h"

namespace corral::images::oci {

// This host's architecture in OCI's words (amd64, arm64, else uname's).
std::string HostArch();
// 64 lowercase hex digits (a sha256 digest's hex).
bool IsHex64(absl::string_view s);
// "sha256:" and the first 12 hex digits, for messages.
std::string Short(absl::string_view digest);

struct Blob {
  int fd = -1;
  int64_t offset = 0, size = 0;
};

// The files of an OCI layout directory, or the members of an archive (read in place).
class Bundle {
 public:
  static absl::StatusOr<std::unique_ptr<Bundle>> Open(const ImageSource& source);

  // A file of the layout, or an archive member (its hard and symbolic links followed inside the
  // archive, at most 8).
  absl::StatusOr<Blob> Find(const std::string& name);

  absl::StatusOr<std::string> ReadSmall(const std::string& name, int64_t expect_size = -1);

  // A JSON blob named by its descriptor: size and digest checked.
  absl::StatusOr<std::string> ReadVerified(const Descriptor& d, absl::string_view what);

 private:
  Bundle() = default;
  bool dir_ = false;
  std::string path_;
  UniqueFd archive_;
  std::map<std::string, TarMember> members_;
  std::vector<UniqueFd> open_;
};

struct PlannedLayer {
  std::string diff_id;
  std::string member;  // blob name in the bundle
  Descriptor descriptor;  // digest/size: empty/-1 for docker-archive
  bool sniff = false;
  Compression compression = Compression::kNone;
};

struct Plan {
  std::string manifest_digest, config_digest;
  ImageConfig config;
  std::vector<PlannedLayer> layers;
};

// The manifest, config and layers of an OCI layout or oci-archive (through its index, for the
// host's platform and source.tag), every document's digest checked.
absl::StatusOr<Plan> PlanOci(Bundle& bundle, const ImageSource& source);
// The same from a docker-archive's manifest.json (its layers' compression sniffed).
absl::StatusOr<Plan> PlanDockerArchive(Bundle& bundle, const ImageSource& source);

}  // namespace corral::images::oci

#endif  // CORRAL_TOOLS_IMAGES_OCI_IMAGE_BUNDLE_H_
