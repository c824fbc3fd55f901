// The parsers of OCI image input: index.json, manifests, image configs, docker-archive
// manifest.json, corral's image.json (whose parse must survive its own round trip), signals,
// users, entry names, and the tar reader over an archive (IndexTar) and through the gzip and
// zstd readers. None may crash, leak or read out of bounds on any input.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tools/images/oci/layer_unpack.h"
#include "tools/images/oci/oci_format.h"

namespace {

namespace oci = corral::images::oci;

class StringReader : public oci::Reader {
 public:
  explicit StringReader(const std::string& data) : data_(data) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override {
    size_t n = std::min(size, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  const std::string& data_;
  size_t pos_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)oci::ParseIndex(text);
  if (absl::StatusOr<std::vector<oci::Descriptor>> index = oci::ParseIndex(text); index.ok()) {
    (void)oci::SelectManifest(*index, "latest", "amd64");
    (void)oci::SelectManifest(*index, "", "amd64");
  }
  (void)oci::ParseManifest(text);
  (void)oci::ParseImageConfig(text);
  (void)oci::ParseDockerArchiveManifest(text);
  (void)oci::ParseSignal(text);
  (void)oci::ValidateDigest(text);
  (void)oci::CleanEntryName(text);
  uint32_t uid = 0, gid = 0;
  size_t split = text.find('\n');
  (void)oci::ResolveUser(text.substr(0, split), split == std::string::npos ? "" : text.substr(split + 1), text, &uid, &gid);
  absl::StatusOr<oci::ImageRecord> record = oci::ParseRecord(text);
  if (record.ok()) {
    std::string again = oci::FormatRecord(*record);
    absl::StatusOr<oci::ImageRecord> back = oci::ParseRecord(again);
    if (!back.ok() || oci::FormatRecord(*back) != again) {
      std::fprintf(stderr, "image.json round trip: %s\n", back.ok() ? "differs" : std::string(back.status().message()).c_str());
      std::abort();
    }
  }
  // The tar reader, over the input as an archive file.
  int fd = ::memfd_create("oci-fuzz", MFD_CLOEXEC);
  if (fd >= 0) {
    if (::write(fd, data, size) == static_cast<ssize_t>(size)) (void)oci::IndexTar(fd, static_cast<int64_t>(size));
    ::close(fd);
  }
  for (oci::Compression c : {oci::Compression::kGzip, oci::Compression::kZstd}) {
    StringReader raw(text);
    oci::HashingReader hashed(&raw);
    std::unique_ptr<oci::Reader> reader = oci::Decompress(c, &hashed);
    char buf[4096];
    size_t total = 0;
    for (;;) {
      absl::StatusOr<size_t> n = reader->Read(buf, sizeof(buf));
      if (!n.ok() || *n == 0 || (total += *n) > (64u << 20)) break;
    }
  }
  return 0;
}
