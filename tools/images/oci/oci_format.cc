#include "tools/images/oci/oci_format.h"

#include <signal.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace corral::images::oci {
namespace {

using json = nlohmann::json;

absl::Status Invalid(absl::string_view doc, absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(doc, ": ", field, ": ", why));
}

// The value shortened for a message: documents come from outside.
std::string Shown(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

absl::StatusOr<json> ParseObject(absl::string_view doc, absl::string_view text) {
  if (text.size() > static_cast<size_t>(kMaxDocumentBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(doc, ": larger than ", kMaxDocumentBytes, " bytes"));
  }
  json root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(doc, ": not valid JSON"));
  if (!root.is_object() && !root.is_array()) return absl::InvalidArgumentError(absl::StrCat(doc, ": not a JSON object"));
  return root;
}

// An optional string member; present with another type is an error.
absl::Status OptString(absl::string_view doc, const json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return Invalid(doc, key, absl::StrCat(Shown(*it), " is not a string"));
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status OptStrings(absl::string_view doc, const json& obj, const char* key, std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Invalid(doc, key, absl::StrCat(Shown(*it), " is not a list of strings"));
  out->clear();
  for (const json& v : *it) {
    if (!v.is_string()) return Invalid(doc, key, absl::StrCat(Shown(v), " is not a string"));
    out->push_back(v.get<std::string>());
  }
  return absl::OkStatus();
}

absl::StatusOr<Descriptor> ParseDescriptor(absl::string_view doc, absl::string_view where, const json& d) {
  std::string field(where);
  if (!d.is_object()) return Invalid(doc, field, "not an object");
  Descriptor out;
  RETURN_IF_ERROR(OptString(doc, d, "mediaType", &out.media_type));
  auto digest = d.find("digest");
  if (digest == d.end() || !digest->is_string()) return Invalid(doc, field + ".digest", "missing");
  out.digest = digest->get<std::string>();
  if (absl::Status valid = ValidateDigest(out.digest); !valid.ok()) {
    return Invalid(doc, field + ".digest", valid.message());
  }
  auto size = d.find("size");
  if (size == d.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return Invalid(doc, field + ".size", size == d.end() ? "missing" : absl::StrCat(Shown(*size), " is not a size"));
  }
  out.size = size->get<int64_t>();
  auto annotations = d.find("annotations");
  if (annotations != d.end() && annotations->is_object()) {
    RETURN_IF_ERROR(OptString(doc, *annotations, kRefNameAnnotation, &out.ref_name));
  }
  auto platform = d.find("platform");
  if (platform != d.end() && platform->is_object()) {
    RETURN_IF_ERROR(OptString(doc, *platform, "os", &out.os));
    RETURN_IF_ERROR(OptString(doc, *platform, "architecture", &out.architecture));
  }
  return out;
}

}  // namespace

absl::Status ValidateDigest(absl::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", digest, "\" is not a digest (ALGORITHM:HEX)"));
  }
  if (digest.substr(0, colon) != "sha256") {
    return absl::UnimplementedError(
        absl::StrCat("digest \"", digest.substr(0, std::min<size_t>(colon, 32)), ":...\": only sha256 is supported"));
  }
  absl::string_view hex = digest.substr(colon + 1);
  if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", digest.substr(0, 80), "\" is not a sha256 digest (64 lower-case hex digits)"));
  }
  return absl::OkStatus();
}

std::string DigestHex(absl::string_view digest) {
  size_t colon = digest.find(':');
  return std::string(colon == absl::string_view::npos ? digest : digest.substr(colon + 1));
}

absl::StatusOr<Compression> LayerCompression(absl::string_view media_type) {
  static const char* const kPlain[] = {"application/vnd.oci.image.layer.v1.tar",
                                       "application/vnd.oci.image.layer.nondistributable.v1.tar",
                                       "application/vnd.docker.image.rootfs.diff.tar"};
  static const char* const kGzip[] = {"application/vnd.oci.image.layer.v1.tar+gzip",
                                      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                                      "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"};
  static const char* const kZstd[] = {"application/vnd.oci.image.layer.v1.tar+zstd",
                                      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"};
  for (const char* m : kPlain) {
    if (media_type == m) return Compression::kNone;
  }
  for (const char* m : kGzip) {
    if (media_type == m) return Compression::kGzip;
  }
  for (const char* m : kZstd) {
    if (media_type == m) return Compression::kZstd;
  }
  return absl::UnimplementedError(absl::StrCat("layer media type \"", media_type.substr(0, 120),
                                               "\" is not supported (plain, gzip or zstd tar layers are)"));
}

Compression SniffCompression(absl::string_view head) {
  if (head.size() >= 2 && static_cast<uint8_t>(head[0]) == 0x1f && static_cast<uint8_t>(head[1]) == 0x8b) {
    return Compression::kGzip;
  }
  if (head.size() >= 4 && head.substr(0, 4) == absl::string_view("\x28\xb5\x2f\xfd", 4)) return Compression::kZstd;
  return Compression::kNone;
}

absl::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    default:
      return "none";
  }
}

absl::StatusOr<std::vector<Descriptor>> ParseIndex(absl::string_view text) {
  ASSIGN_OR_RETURN(json root, ParseObject("index", text));
  if (!root.is_object()) return absl::InvalidArgumentError("index: not a JSON object");
  auto version = root.find("schemaVersion");
  if (version == root.end() || !version->is_number_integer() || version->get<int64_t>() != 2) {
    return Invalid("index", "schemaVersion", version == root.end() ? "missing" : absl::StrCat(Shown(*version), " is not 2"));
  }
  auto manifests = root.find("manifests");
  if (manifests == root.end() || !manifests->is_array()) return Invalid("index", "manifests", "missing or not a list");
  std::vector<Descriptor> out;
  for (size_t i = 0; i < manifests->size(); ++i) {
    ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor("index", absl::StrCat("manifests[", i, "]"), (*manifests)[i]));
    out.push_back(std::move(d));
  }
  if (out.empty()) return Invalid("index", "manifests", "empty: the layout holds no image");
  return out;
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view text) {
  ASSIGN_OR_RETURN(json root, ParseObject("manifest", text));
  if (!root.is_object()) return absl::InvalidArgumentError("manifest: not a JSON object");
  auto version = root.find("schemaVersion");
  if (version == root.end() || !version->is_number_integer() || version->get<int64_t>() != 2) {
    return Invalid("manifest", "schemaVersion",
                   version == root.end() ? "missing" : absl::StrCat(Shown(*version), " is not 2 (schema 1 is not supported)"));
  }
  std::string media_type;
  RETURN_IF_ERROR(OptString("manifest", root, "mediaType", &media_type));
  if (!media_type.empty() && media_type != kMediaOciManifest && media_type != kMediaDockerManifest) {
    return Invalid("manifest", "mediaType", absl::StrCat("\"", media_type.substr(0, 100), "\" is not an image manifest"));
  }
  auto config = root.find("config");
  if (config == root.end()) return Invalid("manifest", "config", "missing");
  Manifest out;
  ASSIGN_OR_RETURN(out.config, ParseDescriptor("manifest", "config", *config));
  auto layers = root.find("layers");
  if (layers == root.end() || !layers->is_array()) return Invalid("manifest", "layers", "missing or not a list");
  for (size_t i = 0; i < layers->size(); ++i) {
    ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor("manifest", absl::StrCat("layers[", i, "]"), (*layers)[i]));
    std::string field = absl::StrCat("layers[", i, "].mediaType");
    absl::StatusOr<Compression> compression = LayerCompression(d.media_type);
    if (!compression.ok()) return Invalid("manifest", field, compression.status().message());
    out.layers.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<Descriptor> SelectManifest(const std::vector<Descriptor>& manifests, absl::string_view tag,
                                          absl::string_view arch) {
  std::vector<std::string> names;
  for (const Descriptor& d : manifests) {
    absl::string_view ref = d.ref_name;
    if (!d.ref_name.empty()) names.push_back(d.ref_name);
    if (tag.empty()) continue;
    if (ref == tag) return d;
    size_t colon = ref.rfind(':');
    if (colon != absl::string_view::npos && ref.substr(colon + 1) == tag && ref.find('/', colon) == absl::string_view::npos) {
      return d;
    }
  }
  if (!tag.empty()) {
    return absl::NotFoundError(absl::StrCat("no image tagged \"", tag, "\" (tags: ",
                                            names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  }
  if (manifests.size() == 1) return manifests.front();
  // Several entries, no tag: one per platform of one image (a multi-arch index) picks ours.
  for (const Descriptor& d : manifests) {
    if (d.os == "linux" && d.architecture == arch) return d;
  }
  return absl::InvalidArgumentError(absl::StrCat("the index holds ", manifests.size(),
                                                 " images: name one with :TAG (tags: ",
                                                 names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<ImageConfig> ParseImageConfig(absl::string_view text) {
  ASSIGN_OR_RETURN(json root, ParseObject("image config", text));
  if (!root.is_object()) return absl::InvalidArgumentError("image config: not a JSON object");
  ImageConfig out;
  RETURN_IF_ERROR(OptString("image config", root, "os", &out.os));
  RETURN_IF_ERROR(OptString("image config", root, "architecture", &out.architecture));
  auto config = root.find("config");
  if (config != root.end() && !config->is_null()) {
    if (!config->is_object()) return Invalid("image config", "config", "not an object");
    constexpr char kDoc[] = "image config";
    RETURN_IF_ERROR(OptStrings(kDoc, *config, "Entrypoint", &out.entrypoint));
    RETURN_IF_ERROR(OptStrings(kDoc, *config, "Cmd", &out.cmd));
    RETURN_IF_ERROR(OptStrings(kDoc, *config, "Env", &out.env));
    RETURN_IF_ERROR(OptString(kDoc, *config, "WorkingDir", &out.working_dir));
    RETURN_IF_ERROR(OptString(kDoc, *config, "User", &out.user));
    RETURN_IF_ERROR(OptString(kDoc, *config, "StopSignal", &out.stop_signal));
    for (const std::string& e : out.env) {
      if (e.empty() || e.front() == '=' || e.find('\0') != std::string::npos) {
        return Invalid(kDoc, "config.Env", absl::StrCat("\"", e.substr(0, 80), "\" is not KEY=VALUE"));
      }
    }
    if (!out.working_dir.empty() && out.working_dir.front() != '/') {
      return Invalid(kDoc, "config.WorkingDir", absl::StrCat("\"", out.working_dir.substr(0, 80), "\" is not absolute"));
    }
    if (!out.stop_signal.empty() && !ParseSignal(out.stop_signal).ok()) {
      return Invalid(kDoc, "config.StopSignal", absl::StrCat("\"", out.stop_signal.substr(0, 40), "\" is not a signal"));
    }
    auto ports = config->find("ExposedPorts");
    if (ports != config->end() && !ports->is_null()) {
      if (!ports->is_object()) return Invalid(kDoc, "config.ExposedPorts", "not an object");
      for (auto it = ports->begin(); it != ports->end(); ++it) out.exposed_ports.push_back(it.key());
      std::sort(out.exposed_ports.begin(), out.exposed_ports.end());
    }
  }
  auto rootfs = root.find("rootfs");
  if (rootfs == root.end() || !rootfs->is_object()) return Invalid("image config", "rootfs", "missing");
  std::string type;
  RETURN_IF_ERROR(OptString("image config", *rootfs, "type", &type));
  if (type != "layers") return Invalid("image config", "rootfs.type", absl::StrCat("\"", type.substr(0, 40), "\" is not \"layers\""));
  RETURN_IF_ERROR(OptStrings("image config", *rootfs, "diff_ids", &out.diff_ids));
  for (size_t i = 0; i < out.diff_ids.size(); ++i) {
    if (absl::Status valid = ValidateDigest(out.diff_ids[i]); !valid.ok()) {
      return Invalid("image config", absl::StrCat("rootfs.diff_ids[", i, "]"), valid.message());
    }
  }
  return out;
}

absl::StatusOr<std::vector<DockerArchiveEntry>> ParseDockerArchiveManifest(absl::string_view text) {
  ASSIGN_OR_RETURN(json root, ParseObject("manifest.json", text));
  if (!root.is_array() || root.empty()) return absl::InvalidArgumentError("manifest.json: not a non-empty list");
  std::vector<DockerArchiveEntry> out;
  for (size_t i = 0; i < root.size(); ++i) {
    std::string doc = absl::StrCat("manifest.json[", i, "]");
    const json& e = root[i];
    if (!e.is_object()) return absl::InvalidArgumentError(absl::StrCat(doc, ": not an object"));
    DockerArchiveEntry entry;
    RETURN_IF_ERROR(OptString(doc, e, "Config", &entry.config));
    if (entry.config.empty()) return Invalid(doc, "Config", "missing");
    RETURN_IF_ERROR(OptStrings(doc, e, "RepoTags", &entry.repo_tags));
    RETURN_IF_ERROR(OptStrings(doc, e, "Layers", &entry.layers));
    out.push_back(std::move(entry));
  }
  return out;
}

absl::StatusOr<int> ParseSignal(absl::string_view text) {
  static const std::pair<const char*, int> kNames[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"TERM", SIGTERM},   {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"PWR", SIGPWR},
      {"WINCH", SIGWINCH}, {"ALRM", SIGALRM}, {"ABRT", SIGABRT}};
  std::string upper = absl::AsciiStrToUpper(text);
  absl::string_view name = upper;
  int number = 0;
  if (absl::SimpleAtoi(name, &number)) {
    if (number >= 1 && number <= SIGRTMAX) return number;
    return absl::InvalidArgumentError(absl::StrCat("signal ", text, " is out of range"));
  }
  absl::ConsumePrefix(&name, "SIG");
  for (const auto& [n, s] : kNames) {
    if (name == n) return s;
  }
  if (absl::ConsumePrefix(&name, "RTMIN")) {
    int offset = 0;
    if (name.empty()) return SIGRTMIN;
    if (absl::ConsumePrefix(&name, "+") && absl::SimpleAtoi(name, &offset) && offset >= 0 && SIGRTMIN + offset <= SIGRTMAX) {
      return SIGRTMIN + offset;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", text.substr(0, 40), "\" is not a signal name or number"));
}

std::string LayerDir(const std::string& images_dir, absl::string_view diff_id) {
  return absl::StrCat(images_dir, "/", kLayersDirName, "/sha256/", DigestHex(diff_id));
}

std::string StoreLockPath(const std::string& images_dir) {
  return absl::StrCat(images_dir, "/", kLayersDirName, "/.lock");
}

std::vector<std::string> LowerDirs(const std::string& images_dir, const ImageRecord& record) {
  std::vector<std::string> out;
  for (auto it = record.layers.rbegin(); it != record.layers.rend(); ++it) out.push_back(LayerDir(images_dir, it->diff_id));
  return out;
}

std::string FormatRecord(const ImageRecord& r) {
  json layers = json::array();
  for (const LayerRecord& l : r.layers) {
    layers.push_back({{"diff_id", l.diff_id},
                      {"digest", l.digest},
                      {"compression", l.compression},
                      {"blob_bytes", l.blob_bytes},
                      {"unpacked_bytes", l.unpacked_bytes}});
  }
  json config = {{"Entrypoint", r.config.entrypoint}, {"Cmd", r.config.cmd},
                 {"Env", r.config.env},               {"WorkingDir", r.config.working_dir},
                 {"User", r.config.user},             {"StopSignal", r.config.stop_signal},
                 {"ExposedPorts", r.config.exposed_ports}, {"os", r.config.os},
                 {"architecture", r.config.architecture}};
  json root = {{"format", kRecordFormat},
               {"name", r.name},
               {"source", r.source},
               {"manifest_digest", r.manifest_digest},
               {"config_digest", r.config_digest},
               {"layers", layers},
               {"config", config},
               {"uid", r.uid},
               {"gid", r.gid},
               {"stop_signal", r.stop_signal},
               {"created_sec", r.created_sec}};
  return root.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

absl::StatusOr<ImageRecord> ParseRecord(absl::string_view text) {
  ASSIGN_OR_RETURN(json root, ParseObject("image.json", text));
  if (!root.is_object()) return absl::InvalidArgumentError("image.json: not a JSON object");
  constexpr char kDoc[] = "image.json";
  ImageRecord r;
  std::string format;
  RETURN_IF_ERROR(OptString(kDoc, root, "format", &format));
  if (format != kRecordFormat) return Invalid(kDoc, "format", absl::StrCat("\"", format.substr(0, 40), "\" is not ", kRecordFormat));
  RETURN_IF_ERROR(OptString(kDoc, root, "name", &r.name));
  RETURN_IF_ERROR(OptString(kDoc, root, "source", &r.source));
  RETURN_IF_ERROR(OptString(kDoc, root, "manifest_digest", &r.manifest_digest));
  RETURN_IF_ERROR(OptString(kDoc, root, "config_digest", &r.config_digest));
  auto number = [&](const json& obj, const char* key, int64_t min, int64_t max, int64_t* out) -> absl::Status {
    auto it = obj.find(key);
    if (it == obj.end()) return absl::OkStatus();
    if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
      return Invalid(kDoc, key, absl::StrCat(Shown(*it), " is out of range"));
    }
    *out = it->get<int64_t>();
    return absl::OkStatus();
  };
  auto layers = root.find("layers");
  if (layers == root.end() || !layers->is_array()) return Invalid(kDoc, "layers", "missing");
  for (const json& l : *layers) {
    if (!l.is_object()) return Invalid(kDoc, "layers", "an entry is not an object");
    LayerRecord layer;
    RETURN_IF_ERROR(OptString(kDoc, l, "diff_id", &layer.diff_id));
    if (absl::Status valid = ValidateDigest(layer.diff_id); !valid.ok()) return Invalid(kDoc, "layers.diff_id", valid.message());
    RETURN_IF_ERROR(OptString(kDoc, l, "digest", &layer.digest));
    RETURN_IF_ERROR(OptString(kDoc, l, "compression", &layer.compression));
    RETURN_IF_ERROR(number(l, "blob_bytes", 0, std::numeric_limits<int64_t>::max(), &layer.blob_bytes));
    RETURN_IF_ERROR(number(l, "unpacked_bytes", 0, std::numeric_limits<int64_t>::max(), &layer.unpacked_bytes));
    r.layers.push_back(std::move(layer));
  }
  auto config = root.find("config");
  if (config != root.end() && config->is_object()) {
    RETURN_IF_ERROR(OptStrings(kDoc, *config, "Entrypoint", &r.config.entrypoint));
    RETURN_IF_ERROR(OptStrings(kDoc, *config, "Cmd", &r.config.cmd));
    RETURN_IF_ERROR(OptStrings(kDoc, *config, "Env", &r.config.env));
    RETURN_IF_ERROR(OptString(kDoc, *config, "WorkingDir", &r.config.working_dir));
    RETURN_IF_ERROR(OptString(kDoc, *config, "User", &r.config.user));
    RETURN_IF_ERROR(OptString(kDoc, *config, "StopSignal", &r.config.stop_signal));
    RETURN_IF_ERROR(OptStrings(kDoc, *config, "ExposedPorts", &r.config.exposed_ports));
    RETURN_IF_ERROR(OptString(kDoc, *config, "os", &r.config.os));
    RETURN_IF_ERROR(OptString(kDoc, *config, "architecture", &r.config.architecture));
  }
  int64_t uid = 0, gid = 0, stop = 0;
  RETURN_IF_ERROR(number(root, "uid", 0, 4294967294LL, &uid));
  RETURN_IF_ERROR(number(root, "gid", 0, 4294967294LL, &gid));
  RETURN_IF_ERROR(number(root, "stop_signal", 0, 64, &stop));
  RETURN_IF_ERROR(number(root, "created_sec", 0, std::numeric_limits<int64_t>::max(), &r.created_sec));
  r.uid = static_cast<uint32_t>(uid);
  r.gid = static_cast<uint32_t>(gid);
  r.stop_signal = static_cast<int>(stop);
  return r;
}

namespace {

// The numeric field `index` (0-based) of the passwd/group line whose first field is `name`.
bool LookUp(absl::string_view text, absl::string_view name, int index, uint32_t* out) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (fields.size() > static_cast<size_t>(index) && fields[0] == name) {
      return absl::SimpleAtoi(fields[index], out) && *out != 4294967295u;
    }
  }
  return false;
}

}  // namespace

absl::Status ResolveUser(absl::string_view user, absl::string_view passwd, absl::string_view group, uint32_t* uid,
                         uint32_t* gid) {
  *uid = *gid = 0;
  if (user.empty()) return absl::OkStatus();
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(user, absl::MaxSplits(':', 1));
  bool group_given = user.find(':') != absl::string_view::npos;
  if (parts.first.empty() || (group_given && parts.second.empty())) {
    return absl::InvalidArgumentError(absl::StrCat("User \"", user.substr(0, 80), "\" is not USER[:GROUP]"));
  }
  if (absl::SimpleAtoi(parts.first, uid) && *uid != 4294967295u) {
    // A numeric uid keeps its passwd gid when the image has one, else gid 0 (Docker's rule).
    for (absl::string_view line : absl::StrSplit(passwd, '\n')) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ':');
      uint32_t id = 0;
      if (f.size() > 3 && absl::SimpleAtoi(f[2], &id) && id == *uid) {
        absl::SimpleAtoi(f[3], gid);
        break;
      }
    }
  } else if (!LookUp(passwd, parts.first, 2, uid)) {
    return absl::NotFoundError(absl::StrCat("User \"", parts.first.substr(0, 64), "\" is not in the image's /etc/passwd"));
  } else {
    LookUp(passwd, parts.first, 3, gid);
  }
  if (group_given) {
    if (!(absl::SimpleAtoi(parts.second, gid) && *gid != 4294967295u) && !LookUp(group, parts.second, 2, gid)) {
      return absl::NotFoundError(absl::StrCat("group \"", parts.second.substr(0, 64), "\" is not in the image's /etc/group"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corral::images::oci
