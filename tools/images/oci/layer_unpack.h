// Unpacking one OCI/Docker layer (a tar, plain, gzip or zstd) into an empty directory of the
// layer store, as overlayfs wants a lower layer: `.wh.NAME` becomes a 0/0 character device,
// `.wh..wh..opq` the trusted.overlay.opaque xattr on its directory. Every path is resolved
// beneath the layer's root without following any link (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS):
// an entry with "..", an absolute name, or one reached through a symlink the tar planted
// is refused, so nothing is ever written outside the layer.
#ifndef CORRAL_TOOLS_IMAGES_OCI_LAYER_UNPACK_H_
#define CORRAL_TOOLS_IMAGES_OCI_LAYER_UNPACK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/images/oci/oci_format.h"
#include "tools/images/oci/sha256.h"

namespace corral::images::oci {

// A byte stream read front to back. Read returns 0 at the end.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual absl::StatusOr<size_t> Read(char* buf, size_t size) = 0;
};

// `length` bytes of `fd` from `offset` (pread: the fd's position is not used). Not owned.
class FdRangeReader : public Reader {
 public:
  FdRangeReader(int fd, int64_t offset, int64_t length) : fd_(fd), offset_(offset), left_(length) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override;
  int64_t offset() const { return offset_; }
  // Moves on without reading (an archive member's data the index does not need).
  void Advance(int64_t n) {
    offset_ += n;
    left_ -= n;
  }

 private:
  int fd_;
  int64_t offset_, left_;
};

// Everything read through it is hashed and counted.
class HashingReader : public Reader {
 public:
  explicit HashingReader(Reader* inner) : inner_(inner) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override;
  // Reads the rest (what follows the tar's end, a compressed stream's tail) so the digest
  // covers all of it.
  absl::Status Drain();
  std::string Digest() { return "sha256:" + hash_.HexDigest(); }
  int64_t bytes() const { return bytes_; }

 private:
  Reader* inner_;
  Sha256 hash_;
  int64_t bytes_ = 0;
};

// The decompressed stream of `raw` (not owned). kNone passes it through.
std::unique_ptr<Reader> Decompress(Compression compression, Reader* raw);

struct UnpackStats {
  int64_t entries = 0;
  int64_t file_bytes = 0;  // regular files' contents
  int64_t whiteouts = 0;
  int64_t opaque_dirs = 0;
  int64_t skipped_devices = 0;  // device nodes other than whiteouts are not created
};

// Unpacks the tar stream into the directory `root_fd` (empty, on one file system). Owners,
// modes (setuid kept), times and the user.* and security.capability xattrs as the tar says.
// An error names the entry and what is wrong; the directory is then left half-filled for the
// caller to remove.
absl::StatusOr<UnpackStats> UnpackLayer(Reader* tar, int root_fd);

// A regular file (or a link to one) inside a tar archive: where its data starts and how long
// it is. Names are cleaned (CleanEntryName); entries with names that are not clean are left out.
struct TarMember {
  std::string name;
  int64_t offset = 0, size = 0;
  char type = '0';       // '0' a file, '1' a hard link, '2' a symlink
  std::string linkname;  // for '1' and '2'
};
absl::StatusOr<std::vector<TarMember>> IndexTar(int fd, int64_t size);

// Splits an entry name into its components: "./" and repeated slashes dropped; "" for the
// root. InvalidArgument for ".." anywhere, an absolute name, or a NUL.
absl::StatusOr<std::string> CleanEntryName(absl::string_view name);

}  // namespace corral::images::oci

#endif  // CORRAL_TOOLS_IMAGES_OCI_LAYER_UNPACK_H_
