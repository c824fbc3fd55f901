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
#include "tools/images/oci/layer_unpack.h"
#include "tools/images/oci/sha256.h"

namespace corral::images::oci {
namespace {

std::string HostArch() {
  struct utsname u;
  if (::uname(&u) != 0) return "amd64";
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

bool IsHex64(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string Short(absl::string_view digest) {
  std::string hex = DigestHex(digest);
  return absl::StrCat("sha256:", hex.substr(0, 12));
}

struct Blob {
  int fd = -1;
  int64_t offset = 0, size = 0;
};

// The files of an OCI layout directory, or the members of an archive (read in place).
class Bundle {
 public:
  static absl::StatusOr<std::unique_ptr<Bundle>> Open(const ImageSource& source) {
    auto b = std::unique_ptr<Bundle>(new Bundle());
    b->path_ = source.path;
    if (source.kind == ImageSource::Kind::kOciDir) {
      struct stat st;
      if (::stat(source.path.c_str(), &st) != 0) return ErrnoError(absl::StrCat("open the OCI layout ", source.path));
      if (!S_ISDIR(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat(source.path, " is not a directory (an OCI layout)"));
      b->dir_ = true;
      return b;
    }
    b->archive_.reset(::open(source.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!b->archive_.valid()) return ErrnoError(absl::StrCat("open the archive ", source.path));
    struct stat st;
    if (::fstat(b->archive_.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(source.path, " is not a file (an image archive)"));
    }
    absl::StatusOr<std::vector<TarMember>> members = IndexTar(b->archive_.get(), st.st_size);
    if (!members.ok()) return Annotate(members.status(), absl::StrCat("read the archive ", source.path));
    for (TarMember& m : *members) b->members_[m.name] = std::move(m);
    return b;
  }

  absl::StatusOr<Blob> Find(const std::string& name) {
    if (dir_) {
      std::string file = absl::StrCat(path_, "/", name);
      UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) return ErrnoError(absl::StrCat("open ", file));
      struct stat st;
      if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return absl::InvalidArgumentError(absl::StrCat(file, " is not a regular file"));
      }
      Blob blob{fd.get(), 0, st.st_size};
      open_.push_back(std::move(fd));
      return blob;
    }
    std::string at = name;
    for (int hops = 0; hops < 8; ++hops) {
      auto it = members_.find(at);
      if (it == members_.end()) {
        return absl::NotFoundError(absl::StrCat(path_, " holds no ", name, at == name ? "" : absl::StrCat(" (a link to ", at, ")")));
      }
      const TarMember& m = it->second;
      if (m.type == '0') return Blob{archive_.get(), m.offset, m.size};
      std::string target;
      if (m.type == '1') {
        target = m.linkname;
      } else {  // a symlink, relative to its own directory, resolved inside the archive
        size_t slash = at.rfind('/');
        target = absl::StartsWith(m.linkname, "/") ? m.linkname
                                                    : absl::StrCat(slash == std::string::npos ? "" : at.substr(0, slash + 1), m.linkname);
      }
      std::vector<std::string> parts;
      for (absl::string_view p : absl::StrSplit(target, '/', absl::SkipEmpty())) {
        if (p == ".") continue;
        if (p == "..") {
          if (parts.empty()) return absl::NotFoundError(absl::StrCat(name, " links outside the archive"));
          parts.pop_back();
          continue;
        }
        parts.emplace_back(p);
      }
      at = absl::StrJoin(parts, "/");
    }
    return absl::NotFoundError(absl::StrCat(name, ": too many links"));
  }

  absl::StatusOr<std::string> ReadSmall(const std::string& name, int64_t expect_size = -1) {
    ASSIGN_OR_RETURN(Blob blob, Find(name));
    if (expect_size >= 0 && blob.size != expect_size) {
      return absl::DataLossError(absl::StrCat(name, " is ", blob.size, " bytes, not the ", expect_size, " its descriptor says"));
    }
    if (blob.size > kMaxDocumentBytes) return absl::InvalidArgumentError(absl::StrCat(name, " is too large for a JSON document"));
    std::string text(static_cast<size_t>(blob.size), '\0');
    FdRangeReader reader(blob.fd, blob.offset, blob.size);
    size_t got = 0;
    while (got < text.size()) {
      ASSIGN_OR_RETURN(size_t n, reader.Read(text.data() + got, text.size() - got));
      if (n == 0) break;
      got += n;
    }
    return text;
  }

  // A JSON blob named by its descriptor: size and digest checked.
  absl::StatusOr<std::string> ReadVerified(const Descriptor& d, absl::string_view what) {
    ASSIGN_OR_RETURN(std::string text, ReadSmall(absl::StrCat("blobs/sha256/", DigestHex(d.digest)), d.size));
    std::string actual = Sha256Digest(text);
    if (actual != d.digest) {
      return absl::DataLossError(absl::StrCat(what, ": digest mismatch: the descriptor says ", d.digest, ", the blob is ", actual));
    }
    return text;
  }

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

absl::StatusOr<Plan> PlanOci(Bundle& bundle, const ImageSource& source) {
  Plan plan;
  ASSIGN_OR_RETURN(std::string index_text, bundle.ReadSmall("index.json"));
  absl::StatusOr<std::vector<Descriptor>> index = ParseIndex(index_text);
  if (!index.ok()) return Annotate(index.status(), "index.json");
  ASSIGN_OR_RETURN(Descriptor manifest, SelectManifest(*index, source.tag, HostArch()));
  // A multi-platform image: its index names one manifest per platform.
  for (int depth = 0; manifest.media_type == kMediaOciIndex || manifest.media_type == kMediaDockerList; ++depth) {
    if (depth >= 4) return absl::InvalidArgumentError("indexes nested more than 4 deep");
    ASSIGN_OR_RETURN(std::string nested_text, bundle.ReadVerified(manifest, absl::StrCat("index ", Short(manifest.digest))));
    ASSIGN_OR_RETURN(std::vector<Descriptor> nested, ParseIndex(nested_text));
    ASSIGN_OR_RETURN(manifest, SelectManifest(nested, "", HostArch()));
  }
  ASSIGN_OR_RETURN(std::string manifest_text, bundle.ReadVerified(manifest, absl::StrCat("manifest ", Short(manifest.digest))));
  ASSIGN_OR_RETURN(Manifest parsed, ParseManifest(manifest_text));
  ASSIGN_OR_RETURN(std::string config_text, bundle.ReadVerified(parsed.config, absl::StrCat("config ", Short(parsed.config.digest))));
  ASSIGN_OR_RETURN(plan.config, ParseImageConfig(config_text));
  if (plan.config.diff_ids.size() != parsed.layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the manifest lists ", parsed.layers.size(), " layers, the config's rootfs.diff_ids ",
                                                   plan.config.diff_ids.size()));
  }
  plan.manifest_digest = manifest.digest;
  plan.config_digest = parsed.config.digest;
  for (size_t i = 0; i < parsed.layers.size(); ++i) {
    PlannedLayer layer;
    layer.diff_id = plan.config.diff_ids[i];
    layer.descriptor = parsed.layers[i];
    layer.member = absl::StrCat("blobs/sha256/", DigestHex(layer.descriptor.digest));
    ASSIGN_OR_RETURN(layer.compression, LayerCompression(layer.descriptor.media_type));
    plan.layers.push_back(std::move(layer));
  }
  return plan;
}

absl::StatusOr<Plan> PlanDockerArchive(Bundle& bundle, const ImageSource& source) {
  Plan plan;
  ASSIGN_OR_RETURN(std::string manifest_text, bundle.ReadSmall("manifest.json"));
  ASSIGN_OR_RETURN(std::vector<DockerArchiveEntry> entries, ParseDockerArchiveManifest(manifest_text));
  const DockerArchiveEntry* chosen = nullptr;
  std::vector<std::string> tags;
  for (const DockerArchiveEntry& e : entries) {
    for (const std::string& t : e.repo_tags) {
      tags.push_back(t);
      if (!source.tag.empty() && (t == source.tag || absl::EndsWith(t, absl::StrCat(":", source.tag)))) chosen = &e;
    }
  }
  if (source.tag.empty() && entries.size() == 1) chosen = &entries.front();
  if (chosen == nullptr) {
    return absl::NotFoundError(absl::StrCat(source.tag.empty() ? "the archive holds several images: name one with :TAG"
                                                               : absl::StrCat("no image tagged \"", source.tag, "\""),
                                            " (tags: ", tags.empty() ? "none" : absl::StrJoin(tags, ", "), ")"));
  }
  ASSIGN_OR_RETURN(std::string config_text, bundle.ReadSmall(chosen->config));
  plan.config_digest = Sha256Digest(config_text);
  // docker save names the config by its digest ("HEX.json", or blobs/sha256/HEX).
  std::string base = chosen->config.substr(chosen->config.rfind('/') + 1);
  if (absl::EndsWith(base, ".json")) base.resize(base.size() - 5);
  if (IsHex64(base) && plan.config_digest != absl::StrCat("sha256:", base)) {
    return absl::DataLossError(absl::StrCat("config ", chosen->config, ": digest mismatch: its name says sha256:", base,
                                            ", its content is ", plan.config_digest));
  }
  ASSIGN_OR_RETURN(plan.config, ParseImageConfig(config_text));
  if (plan.config.diff_ids.size() != chosen->layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest.json lists ", chosen->layers.size(), " layers, the config's rootfs.diff_ids ",
                                                   plan.config.diff_ids.size()));
  }
  for (size_t i = 0; i < chosen->layers.size(); ++i) {
    PlannedLayer layer;
    layer.diff_id = plan.config.diff_ids[i];
    absl::StatusOr<std::string> clean = CleanEntryName(chosen->layers[i]);
    if (!clean.ok()) return absl::InvalidArgumentError(absl::StrCat("manifest.json layer \"", chosen->layers[i], "\": ", clean.status().message()));
    layer.member = *clean;
    layer.sniff = true;
    plan.layers.push_back(std::move(layer));
  }
  return plan;
}

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
  for (size_t i = 0; i < plan->layers.size(); ++i) {
    if (absl::Status found = bundle->Find(plan->layers[i].member).status(); !found.ok()) {
      return Annotate(found, absl::StrCat(options.source, ": layer ", i + 1));
    }
  }
  ASSIGN_OR_RETURN(FileLock lock, LockStore(images_dir));
  // The blobs of the layers to unpack match their digests before any of them is parsed: a
  // tampered blob is refused as what it is, and unpacks nothing. (Checked again while
  // unpacking, with the diff_id, against a blob changed in between.)
  for (size_t i = 0; i < plan->layers.size(); ++i) {
    const PlannedLayer& layer = plan->layers[i];
    if (layer.descriptor.digest.empty() || Exists(LayerDir(images_dir, layer.diff_id))) continue;
    ASSIGN_OR_RETURN(Blob blob, bundle->Find(layer.member));
    std::string which = absl::StrCat("layer ", i + 1, "/", plan->layers.size(), " ", Short(layer.diff_id));
    if (layer.descriptor.size >= 0 && blob.size != layer.descriptor.size) {
      return absl::DataLossError(absl::StrCat(options.source, ": ", which, ": the blob is ", blob.size,
                                              " bytes, the manifest says ", layer.descriptor.size, "; nothing was imported"));
    }
    FdRangeReader raw(blob.fd, blob.offset, blob.size);
    HashingReader hash(&raw);
    RETURN_IF_ERROR(hash.Drain());
    if (std::string actual = hash.Digest(); actual != layer.descriptor.digest) {
      return absl::DataLossError(absl::StrCat(options.source, ": ", which, ": blob digest mismatch: the manifest says ",
                                              layer.descriptor.digest, ", the blob is ", actual, "; nothing was imported"));
    }
  }
  ImportReport report;
  report.layers = static_cast<int>(plan->layers.size());
  std::vector<std::string> created;  // removed again if the import fails
  std::string staging;
  auto fail = [&](absl::Status status) {
    if (!staging.empty()) RemoveTree(staging).IgnoreError();
    for (const std::string& dir : created) RemoveTree(dir).IgnoreError();
    return Annotate(status, absl::StrCat("import ", options.source, " (nothing was kept)"));
  };
  ImageRecord record;
  record.name = options.name;
  record.source = options.recorded_source.empty() ? options.source : options.recorded_source;
  record.manifest_digest = plan->manifest_digest;
  record.config_digest = plan->config_digest;
  record.config = plan->config;
  // What a present layer unpacked to is in the records that brought it.
  std::map<std::string, int64_t> known_bytes;
  if (absl::StatusOr<std::vector<StoreImage>> images = ListStore(images_dir); images.ok()) {
    for (const StoreImage& image : *images) {
      for (const LayerRecord& l : image.record.layers) known_bytes[l.diff_id] = l.unpacked_bytes;
    }
  }
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
      lr.compression = layer.sniff ? "" : std::string(CompressionName(layer.compression));
      lr.unpacked_bytes = known_bytes.count(layer.diff_id) ? known_bytes[layer.diff_id] : 0;
      for (const LayerRecord& earlier : record.layers) {
        if (earlier.diff_id == layer.diff_id) lr = earlier;
      }
      if (lr.digest.empty()) lr.digest = layer.descriptor.digest;
      log(absl::StrCat(which, ": already in the store"));
      record.layers.push_back(lr);
      continue;
    }
    if (layer.descriptor.size >= 0 && blob->size != layer.descriptor.size) {
      return fail(absl::DataLossError(absl::StrCat(which, ": the blob is ", blob->size, " bytes, the manifest says ",
                                                   layer.descriptor.size)));
    }
    Compression compression = layer.compression;
    if (layer.sniff) {
      char head[4] = {};
      ssize_t n = ::pread(blob->fd, head, sizeof(head), blob->offset);
      compression = SniffCompression(absl::string_view(head, n > 0 ? static_cast<size_t>(n) : 0));
    }
    lr.compression = std::string(CompressionName(compression));
    staging = absl::StrCat(images_dir, "/", kLayersDirName, "/sha256/.tmp-", DigestHex(layer.diff_id), "-", ::getpid());
    RemoveTree(staging).IgnoreError();
    if (::mkdir(staging.c_str(), 0700) != 0) return fail(ErrnoError(absl::StrCat("mkdir ", staging)));
    UniqueFd root(::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root.valid()) return fail(ErrnoError(absl::StrCat("open ", staging)));
    FdRangeReader raw(blob->fd, blob->offset, blob->size);
    HashingReader blob_hash(&raw);
    std::unique_ptr<Reader> tar = Decompress(compression, &blob_hash);
    HashingReader diff_hash(tar.get());
    absl::StatusOr<UnpackStats> stats = UnpackLayer(&diff_hash, root.get());
    if (!stats.ok()) return fail(Annotate(stats.status(), which));
    if (absl::Status drained = diff_hash.Drain(); !drained.ok()) return fail(Annotate(drained, which));
    if (absl::Status drained = blob_hash.Drain(); !drained.ok()) return fail(Annotate(drained, which));
    std::string blob_digest = blob_hash.Digest();
    if (!layer.descriptor.digest.empty() && blob_digest != layer.descriptor.digest) {
      return fail(absl::DataLossError(absl::StrCat(which, ": blob digest mismatch: the manifest says ", layer.descriptor.digest,
                                                   ", the blob is ", blob_digest)));
    }
    if (lr.digest.empty()) lr.digest = blob_digest;
    std::string diff_id = diff_hash.Digest();
    if (diff_id != layer.diff_id) {
      return fail(absl::DataLossError(absl::StrCat(which, ": diff_id mismatch: the config says ", layer.diff_id,
                                                   ", the uncompressed layer is ", diff_id)));
    }
    root.reset();
    if (::rename(staging.c_str(), final_dir.c_str()) != 0) return fail(ErrnoError(absl::StrCat("rename ", staging, " to ", final_dir)));
    staging.clear();
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
  // The image's user as numbers, from its own passwd and group.
  std::vector<std::string> lowers = LowerDirs(images_dir, record);
  if (absl::Status user = ResolveUser(record.config.user, ReadFromLayers(lowers, "etc/passwd"),
                                      ReadFromLayers(lowers, "etc/group"), &record.uid, &record.gid);
      !user.ok()) {
    return fail(user);
  }
  if (!record.config.stop_signal.empty()) {
    absl::StatusOr<int> signal = ParseSignal(record.config.stop_signal);
    if (!signal.ok()) return fail(signal.status());
    record.stop_signal = *signal;
  }
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
