#include "tools/images/oci/oci_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "tools/images/image_store.h"
#include "tools/images/oci/image_bundle.h"
#include "tools/images/oci/layer_unpack.h"
#include "tools/images/oci/sha256.h"

namespace corral::images::oci {
namespace {

// Reads `rel` (etc/passwd) from the first layer, top down, that has it as a plain file.
std::string ReadFromLayers(const std::vector<std::string>& lowers, const std::string& rel) {
  for (const std::string& dir : lowers) {
    UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) continue;
    struct open_how how = {};
    how.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    UniqueFd fd(sys::Openat2(root.get(), rel.c_str(), &how, sizeof(how)));
    if (!fd.valid()) continue;
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) continue;
    if (S_ISCHR(st.st_mode)) return "";  // a whiteout: deleted above the lower layers
    if (!S_ISREG(st.st_mode) || st.st_size > (4 << 20)) continue;
    std::string text(static_cast<size_t>(st.st_size), '\0');
    ssize_t n = ::pread(fd.get(), text.data(), text.size(), 0);
    if (n >= 0) text.resize(static_cast<size_t>(n));
    return text;
  }
  return "";
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Referenced layers (hex of diff_ids): every record, every container config's image_layer.
absl::StatusOr<std::set<std::string>> ReferencedLayers(const std::string& images_dir, const std::string& containers_dir) {
  std::set<std::string> used;
  ASSIGN_OR_RETURN(std::vector<StoreImage> images, ListStore(images_dir));
  for (const StoreImage& image : images) {
    for (const LayerRecord& l : image.record.layers) used.insert(DigestHex(l.diff_id));
  }
  DIR* dir = ::opendir(containers_dir.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return used;
    return ErrnoError(absl::StrCat("list ", containers_dir));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  ::closedir(dir);
  for (const std::string& n : names) {
    absl::StatusOr<std::string> text = ReadFile(absl::StrCat(containers_dir, "/", n, "/config"));
    if (!text.ok()) continue;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      std::string value;
      if (!absl::ConsumePrefix(&line, "image_layer=") || !absl::CUnescape(line, &value)) continue;
      used.insert(value.substr(value.rfind('/') + 1));
    }
  }
  return used;
}

absl::StatusOr<int> CollectLocked(const std::string& images_dir, const std::string& containers_dir) {
  ASSIGN_OR_RETURN(std::set<std::string> used, ReferencedLayers(images_dir, containers_dir));
  std::string store = absl::StrCat(images_dir, "/", kLayersDirName, "/sha256");
  DIR* dir = ::opendir(store.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return 0;
    return ErrnoError(absl::StrCat("list ", store));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    // Staging trees of imports that died (the lock is ours, so none is in progress).
    if (absl::StartsWith(n, ".tmp-") || (IsHex64(n) && !used.count(n))) names.push_back(n);
  }
  ::closedir(dir);
  int removed = 0;
  for (const std::string& n : names) {
    RETURN_IF_ERROR(RemoveTree(absl::StrCat(store, "/", n)));
    if (IsHex64(n)) ++removed;
  }
  return removed;
}

absl::StatusOr<FileLock> LockStore(const std::string& images_dir) {
  RETURN_IF_ERROR(MakePrivateDirectory(images_dir, /*tighten_existing=*/false));
  std::string layers = absl::StrCat(images_dir, "/", kLayersDirName);
  RETURN_IF_ERROR(MakePrivateDirectory(layers, /*tighten_existing=*/true));
  RETURN_IF_ERROR(MakePrivateDirectory(layers + "/sha256", /*tighten_existing=*/true));
  return FileLock::Take(StoreLockPath(images_dir));
}

}  // namespace

bool LooksLikeImageSource(absl::string_view text) {
  return absl::StartsWith(text, "oci:") || absl::StartsWith(text, "oci-archive:") || absl::StartsWith(text, "docker-archive:");
}

absl::StatusOr<ImageSource> ParseImageSource(absl::string_view text) {
  ImageSource source;
  absl::string_view rest = text;
  if (absl::ConsumePrefix(&rest, "oci:")) {
    source.kind = ImageSource::Kind::kOciDir;
  } else if (absl::ConsumePrefix(&rest, "oci-archive:")) {
    source.kind = ImageSource::Kind::kOciArchive;
  } else if (absl::ConsumePrefix(&rest, "docker-archive:")) {
    source.kind = ImageSource::Kind::kDockerArchive;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:TAG]"));
  }
  size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos && rest.find('/', colon) == absl::string_view::npos) {
    source.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (source.tag.empty()) return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": an empty tag after ':'"));
  }
  if (rest.empty()) return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": no path"));
  source.path = std::string(rest);
  return source;
}

std::string DefaultContainersDir(const std::string& images_dir) {
  size_t slash = images_dir.find_last_of('/');
  return absl::StrCat(slash == std::string::npos ? "." : images_dir.substr(0, slash), "/containers");
}

absl::StatusOr<ImageRecord> LoadRecord(const std::string& images_dir, const std::string& name) {
  std::string path = absl::StrCat(images_dir, "/", name, "/image.json");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<ImageRecord> record = ParseRecord(*text);
  if (!record.ok()) return Annotate(record.status(), path);
  return record;
}

namespace {

absl::Status FindLayerBlobs(Bundle& bundle, const Plan& plan, const std::string& source) {
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    if (absl::Status found = bundle.Find(plan.layers[i].member).status(); !found.ok()) {
      return Annotate(found, absl::StrCat(source, ": layer ", i + 1));
    }
  }
  return absl::OkStatus();
}

// The record of the image being imported, its layers still to come.
ImageRecord NewRecord(const ImportOptions& options, const Plan& plan) {
  ImageRecord record;
  record.name = options.name;
  record.source = options.recorded_source.empty() ? options.source : options.recorded_source;
  record.manifest_digest = plan.manifest_digest;
  record.config_digest = plan.config_digest;
  record.config = plan.config;
  return record;
}

// The blobs of the layers to unpack match their digests before any of them is parsed: a
// tampered blob is refused as what it is, and unpacks nothing. (Checked again while
// unpacking, with the diff_id, against a blob changed in between.)
absl::Status VerifyLayerBlobs(Bundle& bundle, const Plan& plan, const std::string& images_dir, const std::string& source) {
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    const PlannedLayer& layer = plan.layers[i];
    if (layer.descriptor.digest.empty() || Exists(LayerDir(images_dir, layer.diff_id))) continue;
    ASSIGN_OR_RETURN(Blob blob, bundle.Find(layer.member));
    std::string which = absl::StrCat("layer ", i + 1, "/", plan.layers.size(), " ", Short(layer.diff_id));
    if (layer.descriptor.size >= 0 && blob.size != layer.descriptor.size) {
      return absl::DataLossError(absl::StrCat(source, ": ", which, ": the blob is ", blob.size,
                                              " bytes, the manifest says ", layer.descriptor.size, "; nothing was imported"));
    }
    FdRangeReader raw(blob.fd, blob.offset, blob.size);
    HashingReader hash(&raw);
    RETURN_IF_ERROR(hash.Drain());
    if (std::string actual = hash.Digest(); actual != layer.descriptor.digest) {
      return absl::DataLossError(absl::StrCat(source, ": ", which, ": blob digest mismatch: the manifest says ",
                                              layer.descriptor.digest, ", the blob is ", actual, "; nothing was imported"));
    }
  }
  return absl::OkStatus();
}

// What each layer in the store unpacked to, from the records of the images that brought it.
std::map<std::string, int64_t> KnownUnpackedBytes(const std::string& images_dir) {
  std::map<std::string, int64_t> known_bytes;
  if (absl::StatusOr<std::vector<StoreImage>> images = ListStore(images_dir); images.ok()) {
    for (const StoreImage& image : *images) {
      for (const LayerRecord& l : image.record.layers) known_bytes[l.diff_id] = l.unpacked_bytes;
    }
  }
  return known_bytes;
}

// The record of a layer already in the store (or twice in this image): as an earlier layer of
// this record has it, else from what is known of it.
void PresentLayer(const PlannedLayer& layer, const ImageRecord& record, const std::map<std::string, int64_t>& known_bytes,
                  LayerRecord& lr) {
  lr.compression = layer.sniff ? "" : std::string(CompressionName(layer.compression));
  lr.unpacked_bytes = known_bytes.count(layer.diff_id) ? known_bytes.at(layer.diff_id) : 0;
  for (const LayerRecord& earlier : record.layers) {
    if (earlier.diff_id == layer.diff_id) lr = earlier;
  }
  if (lr.digest.empty()) lr.digest = layer.descriptor.digest;
}

// Unpacks a layer new to the store into a staging directory beside the others, checks its
// blob digest and diff_id on the way, and renames it to `final_dir`. `*staging` names the
// staging directory while it exists, for the caller to remove if this fails.
absl::StatusOr<UnpackStats> UnpackNewLayer(const std::string& images_dir, const PlannedLayer& layer, const Blob& blob,
                                           const std::string& which, const std::string& final_dir, LayerRecord& lr,
                                           std::string* staging) {
  if (layer.descriptor.size >= 0 && blob.size != layer.descriptor.size) {
    return absl::DataLossError(absl::StrCat(which, ": the blob is ", blob.size, " bytes, the manifest says ",
                                            layer.descriptor.size));
  }
  Compression compression = layer.compression;
  if (layer.sniff) {
    char head[4] = {};
    ssize_t n = ::pread(blob.fd, head, sizeof(head), blob.offset);
    compression = SniffCompression(absl::string_view(head, n > 0 ? static_cast<size_t>(n) : 0));
  }
  lr.compression = std::string(CompressionName(compression));
  *staging = absl::StrCat(images_dir, "/", kLayersDirName, "/sha256/.tmp-", DigestHex(layer.diff_id), "-", ::getpid());
  RemoveTree(*staging).IgnoreError();
  if (::mkdir(staging->c_str(), 0700) != 0) return ErrnoError(absl::StrCat("mkdir ", *staging));
  UniqueFd root(::open(staging->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return ErrnoError(absl::StrCat("open ", *staging));
  FdRangeReader raw(blob.fd, blob.offset, blob.size);
  HashingReader blob_hash(&raw);
  std::unique_ptr<Reader> tar = Decompress(compression, &blob_hash);
  HashingReader diff_hash(tar.get());
  absl::StatusOr<UnpackStats> stats = UnpackLayer(&diff_hash, root.get());
  if (!stats.ok()) return Annotate(stats.status(), which);
  if (absl::Status drained = diff_hash.Drain(); !drained.ok()) return Annotate(drained, which);
  if (absl::Status drained = blob_hash.Drain(); !drained.ok()) return Annotate(drained, which);
  std::string blob_digest = blob_hash.Digest();
  if (!layer.descriptor.digest.empty() && blob_digest != layer.descriptor.digest) {
    return absl::DataLossError(absl::StrCat(which, ": blob digest mismatch: the manifest says ", layer.descriptor.digest,
                                            ", the blob is ", blob_digest));
  }
  if (lr.digest.empty()) lr.digest = blob_digest;
  std::string diff_id = diff_hash.Digest();
  if (diff_id != layer.diff_id) {
    return absl::DataLossError(absl::StrCat(which, ": diff_id mismatch: the config says ", layer.diff_id,
                                            ", the uncompressed layer is ", diff_id));
  }
  root.reset();
  if (::rename(staging->c_str(), final_dir.c_str()) != 0) return ErrnoError(absl::StrCat("rename ", *staging, " to ", final_dir));
  staging->clear();
  return stats;
}

// The image's user as numbers, from its own passwd and group, and its stop signal's number.
absl::Status ResolveUserAndSignal(const std::string& images_dir, ImageRecord& record) {
  std::vector<std::string> lowers = LowerDirs(images_dir, record);
  if (absl::Status user = ResolveUser(record.config.user, ReadFromLayers(lowers, "etc/passwd"),
                                      ReadFromLayers(lowers, "etc/group"), &record.uid, &record.gid);
      !user.ok()) {
    return user;
  }
  if (!record.config.stop_signal.empty()) {
    absl::StatusOr<int> signal = ParseSignal(record.config.stop_signal);
    if (!signal.ok()) return signal.status();
    record.stop_signal = *signal;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportReport> ImportImage(const ImportOptions& options) {
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const std::string& images_dir = options.images_dir;
  RETURN_IF_ERROR(ValidateImageName(options.name));
  if (options.name == kLayersDirName) return absl::InvalidArgumentError("\"layers\" is the layer store's name, not an image's");
  ASSIGN_OR_RETURN(ImageSource source, ParseImageSource(options.source));
  const std::string image_dir = absl::StrCat(images_dir, "/", options.name);
  if (Exists(image_dir + "/rootfs")) {
    return absl::AlreadyExistsError(absl::StrCat("image ", options.name, " exists as a root file system tree (", image_dir,
                                                 "/rootfs): `corralctl image rm ", options.name, "` first"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Bundle> bundle, Bundle::Open(source));
  absl::StatusOr<Plan> plan = source.kind == ImageSource::Kind::kDockerArchive ? PlanDockerArchive(*bundle, source)
                                                                               : PlanOci(*bundle, source);
  if (!plan.ok()) return Annotate(plan.status(), options.source);
  if (!plan->config.architecture.empty() && plan->config.architecture != HostArch()) {
    log(absl::StrCat("warning: the image is for ", plan->config.architecture, ", this host is ", HostArch()));
  }
  // The layers' blobs are all found before anything is written.
  RETURN_IF_ERROR(FindLayerBlobs(*bundle, *plan, options.source));
  ASSIGN_OR_RETURN(FileLock lock, LockStore(images_dir));
  RETURN_IF_ERROR(VerifyLayerBlobs(*bundle, *plan, images_dir, options.source));
  ImportReport report;
  report.layers = static_cast<int>(plan->layers.size());
  std::vector<std::string> created;  // removed again if the import fails
  std::string staging;
  auto fail = [&](absl::Status status) {
    if (!staging.empty()) RemoveTree(staging).IgnoreError();
    for (const std::string& dir : created) RemoveTree(dir).IgnoreError();
    return Annotate(status, absl::StrCat("import ", options.source, " (nothing was kept)"));
  };
  ImageRecord record = NewRecord(options, *plan);
  // What a present layer unpacked to is in the records that brought it.
  const std::map<std::string, int64_t> known_bytes = KnownUnpackedBytes(images_dir);
  for (size_t i = 0; i < plan->layers.size(); ++i) {
    const PlannedLayer& layer = plan->layers[i];
    const std::string final_dir = LayerDir(images_dir, layer.diff_id);
    LayerRecord lr;
    lr.diff_id = layer.diff_id;
    lr.digest = layer.descriptor.digest;
    absl::StatusOr<Blob> blob = bundle->Find(layer.member);
    if (!blob.ok()) return fail(blob.status());
    lr.blob_bytes = blob->size;
    std::string which = absl::StrCat("layer ", i + 1, "/", plan->layers.size(), " ", Short(layer.diff_id));
    bool duplicate = false;  // the same layer twice in one image
    for (size_t j = 0; j < i; ++j) duplicate |= plan->layers[j].diff_id == layer.diff_id;
    if (duplicate || Exists(final_dir)) {
      PresentLayer(layer, record, known_bytes, lr);
      log(absl::StrCat(which, ": already in the store"));
      record.layers.push_back(lr);
      continue;
    }
    absl::StatusOr<UnpackStats> stats = UnpackNewLayer(images_dir, layer, *blob, which, final_dir, lr, &staging);
    if (!stats.ok()) return fail(stats.status());
    created.push_back(final_dir);
    lr.unpacked_bytes = stats->file_bytes;
    report.unpacked_bytes += stats->file_bytes;
    ++report.unpacked;
    log(absl::StrCat(which, ": unpacked (", lr.compression, ", ", stats->entries, " entries, ", stats->file_bytes, " bytes",
                     stats->whiteouts ? absl::StrCat(", ", stats->whiteouts, " whiteouts") : "",
                     stats->opaque_dirs ? absl::StrCat(", ", stats->opaque_dirs, " opaque dirs") : "",
                     stats->skipped_devices ? absl::StrCat(", ", stats->skipped_devices, " device nodes left out") : "", ")"));
    record.layers.push_back(lr);
  }
  if (absl::Status resolved = ResolveUserAndSignal(images_dir, record); !resolved.ok()) return fail(resolved);
  record.created_sec = ::time(nullptr);
  if (absl::Status made = MakePrivateDirectory(image_dir, /*tighten_existing=*/true); !made.ok()) return fail(made);
  if (absl::Status written = WriteFileAtomically(image_dir + "/image.json", FormatRecord(record), 0600); !written.ok()) {
    return fail(written);
  }
  // A replaced record may have left layers nothing uses.
  absl::StatusOr<int> collected = CollectLocked(images_dir, options.containers_dir);
  if (collected.ok() && *collected > 0) log(absl::StrCat("removed ", *collected, " layers no image uses any more"));
  report.record = std::move(record);
  return report;
}

absl::StatusOr<std::vector<StoreImage>> ListStore(const std::string& images_dir) {
  std::vector<StoreImage> out;
  ASSIGN_OR_RETURN(std::vector<ImageInfo> trees, ListImages(images_dir));
  for (const ImageInfo& t : trees) {
    StoreImage s;
    s.name = t.name;
    s.kind = "rootfs";
    s.source = "tree";
    s.layers = 1;
    s.bytes = static_cast<int64_t>(t.bytes);
    s.created_sec = t.created_sec;
    s.path = t.rootfs;
    out.push_back(std::move(s));
  }
  DIR* dir = ::opendir(images_dir.c_str());
  if (dir == nullptr) return out;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n[0] != '.' && n != kLayersDirName) names.push_back(n);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::string path = absl::StrCat(images_dir, "/", n, "/image.json");
    if (!Exists(path)) continue;
    ASSIGN_OR_RETURN(ImageRecord record, LoadRecord(images_dir, n));
    StoreImage s;
    s.name = n;
    s.kind = "oci";
    s.source = record.source;
    s.layers = static_cast<int>(record.layers.size());
    for (const LayerRecord& l : record.layers) s.bytes += l.unpacked_bytes;
    s.created_sec = record.created_sec;
    s.path = path;
    s.record = std::move(record);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const StoreImage& a, const StoreImage& b) { return a.name < b.name; });
  return out;
}

absl::StatusOr<int> CollectLayers(const std::string& images_dir, const std::string& containers_dir) {
  ASSIGN_OR_RETURN(FileLock lock, LockStore(images_dir));
  return CollectLocked(images_dir, containers_dir);
}

absl::StatusOr<RemoveReport> RemoveImage(const std::string& images_dir, const std::string& containers_dir,
                                         const std::string& name) {
  RETURN_IF_ERROR(ValidateImageName(name));
  const std::string image_dir = absl::StrCat(images_dir, "/", name);
  if (name == kLayersDirName || !Exists(image_dir)) return absl::NotFoundError(absl::StrCat("no image named ", name));
  ASSIGN_OR_RETURN(FileLock lock, LockStore(images_dir));
  // Containers made from it keep using its tree or layers: the image stays while they exist.
  if (DIR* dir = ::opendir(containers_dir.c_str()); dir != nullptr) {
    std::vector<std::string> users;
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      absl::StatusOr<std::string> text = ReadFile(absl::StrCat(containers_dir, "/", e->d_name, "/config"));
      if (!text.ok()) continue;
      for (absl::string_view line : absl::StrSplit(*text, '\n')) {
        std::string value;
        if (absl::ConsumePrefix(&line, "image=") && absl::CUnescape(line, &value) && value == name) users.push_back(e->d_name);
      }
    }
    ::closedir(dir);
    if (!users.empty()) {
      std::sort(users.begin(), users.end());
      return absl::FailedPreconditionError(absl::StrCat("image ", name, " is used by container", users.size() > 1 ? "s " : " ",
                                                        absl::StrJoin(users, ", "), ": rm ", users.size() > 1 ? "them" : "it",
                                                        " first; nothing was removed"));
    }
  }
  absl::StatusOr<ImageRecord> record = LoadRecord(images_dir, name);
  if (!record.ok() && record.status().code() != absl::StatusCode::kNotFound) return record.status();
  RETURN_IF_ERROR(RemoveTree(image_dir));
  RemoveReport report;
  ASSIGN_OR_RETURN(report.layers_removed, CollectLocked(images_dir, containers_dir));
  if (record.ok()) {
    std::set<std::string> distinct;
    for (const LayerRecord& l : record->layers) distinct.insert(l.diff_id);
    for (const std::string& d : distinct) report.layers_kept += Exists(LayerDir(images_dir, d)) ? 1 : 0;
  }
  return report;
}

}  // namespace corral::images::oci
