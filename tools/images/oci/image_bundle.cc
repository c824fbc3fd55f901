#include "tools/images/oci/image_bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "tools/images/oci/sha256.h"

namespace corral::images::oci {

bool IsHex64(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string HostArch() {
  struct utsname u;
  if (::uname(&u) != 0) return "amd64";
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

std::string Short(absl::string_view digest) {
  std::string hex = DigestHex(digest);
  return absl::StrCat("sha256:", hex.substr(0, 12));
}

absl::StatusOr<std::unique_ptr<Bundle>> Bundle::Open(const ImageSource& source) {
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

absl::StatusOr<Blob> Bundle::Find(const std::string& name) {
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

absl::StatusOr<std::string> Bundle::ReadSmall(const std::string& name, int64_t expect_size) {
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

absl::StatusOr<std::string> Bundle::ReadVerified(const Descriptor& d, absl::string_view what) {
  ASSIGN_OR_RETURN(std::string text, ReadSmall(absl::StrCat("blobs/sha256/", DigestHex(d.digest)), d.size));
  std::string actual = Sha256Digest(text);
  if (actual != d.digest) {
    return absl::DataLossError(absl::StrCat(what, ": digest mismatch: the descriptor says ", d.digest, ", the blob is ", actual));
  }
  return text;
}

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

}  // namespace corral::images::oci
