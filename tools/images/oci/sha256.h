// SHA-256 (FIPS 180-4), streaming: the digests OCI images name their blobs and layers by
// ("sha256:" + 64 lower-case hex digits). Small and dependency-free; no secrets involved.
#ifndef CORRAL_TOOLS_IMAGES_OCI_SHA256_H_
#define CORRAL_TOOLS_IMAGES_OCI_SHA256_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace corral::images::oci {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  // The 64 hex digits; the object is spent afterwards.
  std::string HexDigest();

 private:
  void Block(const uint8_t* block);
  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_ = 0;
};

// "sha256:" + hex of `data`.
std::string Sha256Digest(absl::string_view data);

}  // namespace corral::images::oci

#endif  // CORRAL_TOOLS_IMAGES_OCI_SHA256_H_
