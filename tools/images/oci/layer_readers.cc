// The Readers of a layer's bytes (tools/images/oci/layer_unpack.h): a blob's byte range, its
// SHA-256 on the way, and the gzip and zstd decompressors.
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "tools/images/oci/layer_unpack.h"

namespace corral::images::oci {

absl::StatusOr<size_t> FdRangeReader::Read(char* buf, size_t size) {
  if (left_ <= 0) return 0;
  size_t want = static_cast<size_t>(std::min<int64_t>(left_, static_cast<int64_t>(size)));
  for (;;) {
    ssize_t n = ::pread(fd_, buf, want, offset_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read the blob");
    if (n == 0) return absl::DataLossError("the blob is shorter than its size says");
    offset_ += n;
    left_ -= n;
    return static_cast<size_t>(n);
  }
}

absl::StatusOr<size_t> HashingReader::Read(char* buf, size_t size) {
  ASSIGN_OR_RETURN(size_t n, inner_->Read(buf, size));
  hash_.Update(buf, n);
  bytes_ += static_cast<int64_t>(n);
  return n;
}

absl::Status HashingReader::Drain() {
  char buf[65536];
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, Read(buf, sizeof(buf)));
    if (n == 0) return absl::OkStatus();
  }
}

namespace {

constexpr size_t kInChunk = 128 * 1024;

class PassReader : public Reader {
 public:
  explicit PassReader(Reader* raw) : raw_(raw) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override { return raw_->Read(buf, size); }

 private:
  Reader* raw_;
};

// gzip (several members one after another, as pigz writes, are one stream).
class GzipReader : public Reader {
 public:
  explicit GzipReader(Reader* raw) : raw_(raw), in_(kInChunk) {
    std::memset(&z_, 0, sizeof(z_));
    ok_ = inflateInit2(&z_, 15 + 16) == Z_OK;
  }
  ~GzipReader() override {
    if (ok_) inflateEnd(&z_);
  }
  absl::StatusOr<size_t> Read(char* buf, size_t size) override {
    if (!ok_) return absl::InternalError("inflateInit2 failed");
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = static_cast<uInt>(size);
    while (z_.avail_out == size) {
      if (z_.avail_in == 0) {
        ASSIGN_OR_RETURN(size_t n, raw_->Read(in_.data(), in_.size()));
        if (n == 0) {
          if (!ended_) return absl::DataLossError("the gzip stream is cut short");
          return 0;
        }
        z_.next_in = reinterpret_cast<Bytef*>(in_.data());
        z_.avail_in = static_cast<uInt>(n);
      }
      if (ended_) {
        // Another member follows the last one's end.
        inflateReset(&z_);
        ended_ = false;
      }
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return absl::DataLossError(absl::StrCat("the gzip stream is corrupt (", z_.msg != nullptr ? z_.msg : "inflate", ")"));
      }
    }
    return size - z_.avail_out;
  }

 private:
  Reader* raw_;
  std::vector<char> in_;
  z_stream z_;
  bool ok_ = false;
  bool ended_ = false;
};

class ZstdReader : public Reader {
 public:
  explicit ZstdReader(Reader* raw) : raw_(raw), in_(kInChunk), stream_(ZSTD_createDStream()) {
    if (stream_ != nullptr) ZSTD_initDStream(stream_);
  }
  ~ZstdReader() override { ZSTD_freeDStream(stream_); }
  absl::StatusOr<size_t> Read(char* buf, size_t size) override {
    if (stream_ == nullptr) return absl::InternalError("ZSTD_createDStream failed");
    ZSTD_outBuffer out = {buf, size, 0};
    while (out.pos == 0) {
      if (input_.pos == input_.size) {
        ASSIGN_OR_RETURN(size_t n, raw_->Read(in_.data(), in_.size()));
        if (n == 0) {
          if (!frame_done_) return absl::DataLossError("the zstd stream is cut short");
          return 0;
        }
        input_ = {in_.data(), n, 0};
      }
      size_t rc = ZSTD_decompressStream(stream_, &out, &input_);
      if (ZSTD_isError(rc)) {
        return absl::DataLossError(absl::StrCat("the zstd stream is corrupt (", ZSTD_getErrorName(rc), ")"));
      }
      frame_done_ = rc == 0;
    }
    return out.pos;
  }

 private:
  Reader* raw_;
  std::vector<char> in_;
  ZSTD_DStream* stream_;
  ZSTD_inBuffer input_ = {nullptr, 0, 0};
  bool frame_done_ = true;
};

// ---- tar ----

}  // namespace

std::unique_ptr<Reader> Decompress(Compression compression, Reader* raw) {
  switch (compression) {
    case Compression::kGzip:
      return std::make_unique<GzipReader>(raw);
    case Compression::kZstd:
      return std::make_unique<ZstdReader>(raw);
    default:
      return std::make_unique<PassReader>(raw);
  }
}

}  // namespace corral::images::oci
