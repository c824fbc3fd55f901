// The JSON documents of OCI images (image-spec 1.0/1.1) and of Docker's archives, parsed into
// plain structs: index.json, manifests (OCI and Docker schema 2), the image config, a
// docker-archive's manifest.json; and corral's own record of an imported image
// (images/NAME/image.json). Pure text in, errors that name the field and the value out.
#ifndef CORRAL_TOOLS_IMAGES_OCI_OCI_FORMAT_H_
#define CORRAL_TOOLS_IMAGES_OCI_OCI_FORMAT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::images::oci {

inline constexpr char kMediaOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kMediaOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kMediaDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kMediaDockerList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kRefNameAnnotation[] = "org.opencontainers.image.ref.name";

// The documents read into memory are bounded: a manifest or config is kilobytes.
inline constexpr int64_t kMaxDocumentBytes = 4 << 20;

// "sha256:" and 64 lower-case hex digits; other algorithms are refused by name.
absl::Status ValidateDigest(absl::string_view digest);
// The hex part of a valid digest.
std::string DigestHex(absl::string_view digest);

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = -1;  // -1: not given (docker-archive)
  std::string ref_name;  // org.opencontainers.image.ref.name
  std::string os, architecture;
};

enum class Compression { kNone, kGzip, kZstd };
// From a layer's media type (OCI and Docker, distributable or not); Unimplemented for
// encrypted or unknown layer types.
absl::StatusOr<Compression> LayerCompression(absl::string_view media_type);
// From the first bytes of a blob (docker-archive layers have no media type).
Compression SniffCompression(absl::string_view head);
absl::string_view CompressionName(Compression compression);

// index.json, or a manifest list.
absl::StatusOr<std::vector<Descriptor>> ParseIndex(absl::string_view text);

struct Manifest {
  Descriptor config;
  std::vector<Descriptor> layers;  // bottom first
};
absl::StatusOr<Manifest> ParseManifest(absl::string_view text);

// Picks the manifest named `tag` (ref.name annotation, or its part after the last ':'), or
// with no tag the only one, or the one for linux/`arch` among several of one image.
absl::StatusOr<Descriptor> SelectManifest(const std::vector<Descriptor>& manifests, absl::string_view tag,
                                          absl::string_view arch);

// What a container made from the image runs by default.
struct ImageConfig {
  std::vector<std::string> entrypoint, cmd, env;
  std::string working_dir, user, stop_signal;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> diff_ids;       // rootfs.diff_ids, bottom first
  std::string os, architecture;
};
absl::StatusOr<ImageConfig> ParseImageConfig(absl::string_view text);

// A docker-archive (docker save, podman save): manifest.json's entries.
struct DockerArchiveEntry {
  std::string config;                  // member name of the config JSON
  std::vector<std::string> repo_tags;  // "busybox:latest"
  std::vector<std::string> layers;     // member names, bottom first
};
absl::StatusOr<std::vector<DockerArchiveEntry>> ParseDockerArchiveManifest(absl::string_view text);

// "SIGTERM", "TERM", "15", "SIGRTMIN+3" to a signal number; InvalidArgument otherwise.
absl::StatusOr<int> ParseSignal(absl::string_view text);

// corral's record of an imported image, images/NAME/image.json.
inline constexpr char kRecordFormat[] = "corral-oci-image-1";
struct LayerRecord {
  std::string diff_id;   // sha256 of the uncompressed tar: the layer store's key
  std::string digest;    // sha256 of the blob as stored
  std::string compression;
  int64_t blob_bytes = 0;
  int64_t unpacked_bytes = 0;  // file contents
};
struct ImageRecord {
  std::string name;
  std::string source;  // what `image import`/`pull` was given
  std::string manifest_digest, config_digest;
  std::vector<LayerRecord> layers;  // bottom first
  ImageConfig config;
  // User resolved against the image's /etc/passwd and /etc/group at import.
  uint32_t uid = 0, gid = 0;
  int stop_signal = 0;  // 0: the default
  int64_t created_sec = 0;
};
// IMAGES_DIR/layers holds the layer store: not an image name.
inline constexpr char kLayersDirName[] = "layers";
// IMAGES_DIR/layers/sha256/HEX: one layer's tree, named by its diff_id.
std::string LayerDir(const std::string& images_dir, absl::string_view diff_id);
// IMAGES_DIR/layers/.lock: held (flock, exclusive) by an image import or removal for its whole
// run, and by corrald while it creates a container from an image (never waiting for it), so a
// removal's collection of unused layers never races a container that is about to use them.
std::string StoreLockPath(const std::string& images_dir);
// The layer directories of a record, top first (overlay's lowerdir order).
std::vector<std::string> LowerDirs(const std::string& images_dir, const ImageRecord& record);

std::string FormatRecord(const ImageRecord& record);
absl::StatusOr<ImageRecord> ParseRecord(absl::string_view text);

// "uid", "uid:gid", "name", "name:group": numeric parts as they are, names looked up in the
// passwd and group texts (empty: not in the image). A user without a group gets its passwd gid.
absl::Status ResolveUser(absl::string_view user, absl::string_view passwd, absl::string_view group, uint32_t* uid,
                         uint32_t* gid);

}  // namespace corral::images::oci

#endif  // CORRAL_TOOLS_IMAGES_OCI_OCI_FORMAT_H_
