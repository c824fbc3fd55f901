#include "tools/images/oci/image_commands.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "tools/images/image_store.h"
#include "tools/images/oci/oci_store.h"

namespace corral::images::oci {
namespace {

int Fail(const std::string& verb, const absl::Status& status, int code = 1) {
  ::fprintf(stderr, "corralctl: %s: %s\n", verb.c_str(), std::string(status.message()).c_str());
  return code;
}

int Usage(const std::string& text) {
  ::fprintf(stderr, "corralctl: %s\n", text.c_str());
  return 2;
}

int Import(const ImportOptions& options) {
  absl::StatusOr<ImportReport> report = ImportImage(options);
  if (!report.ok()) return Fail("image import", report.status());
  ::printf("imported image %s: %d layers, %d unpacked, %d already in the store (%s)\n", options.name.c_str(),
           report->layers, report->unpacked, report->layers - report->unpacked, report->record.source.c_str());
  return 0;
}

}  // namespace

int ImportCommand(const std::string& images_dir, const std::string& name, const std::string& source) {
  ImportOptions options;
  options.images_dir = images_dir;
  options.containers_dir = DefaultContainersDir(images_dir);
  options.name = name;
  options.source = source;
  // A relative path is the caller's: made absolute for the record.
  absl::StatusOr<ImageSource> parsed = ParseImageSource(source);
  if (parsed.ok() && parsed->path[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) != nullptr) {
      options.source = absl::StrCat(source.substr(0, source.find(':') + 1), cwd, "/", source.substr(source.find(':') + 1));
    }
  }
  options.log = [](const std::string& line) { ::printf("  %s\n", line.c_str()); };
  return Import(options);
}

std::string DefaultPullName(const std::string& ref) {
  std::string name = ref;
  if (size_t at = name.find('@'); at != std::string::npos) name.resize(at);
  if (size_t slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
  if (size_t colon = name.find(':'); colon != std::string::npos) name.resize(colon);
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    out.push_back(ok ? c : '-');
  }
  while (!out.empty() && !((out[0] >= 'a' && out[0] <= 'z') || (out[0] >= 'A' && out[0] <= 'Z') || (out[0] >= '0' && out[0] <= '9'))) {
    out.erase(0, 1);
  }
  if (out.size() > 64) out.resize(64);
  return out.empty() ? "image" : out;
}

int PullCommand(const std::string& images_dir, const std::vector<std::string>& args) {
  constexpr char kUsage[] = "usage: corralctl image pull REF [--name NAME] [--tls-verify=false]";
  std::string ref, name;
  bool tls_verify = true, tls_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--name" && i + 1 < args.size()) {
      name = args[++i];
    } else if (a == "--tls-verify=false" || a == "--tls-verify=true") {
      tls_verify = a == "--tls-verify=true";
      tls_given = true;
    } else if (!a.empty() && a[0] != '-' && ref.empty()) {
      ref = a;
    } else {
      return Usage(kUsage);
    }
  }
  if (ref.empty()) return Usage(kUsage);
  absl::string_view bare = ref;
  absl::ConsumePrefix(&bare, "docker://");
  if (name.empty()) name = DefaultPullName(std::string(bare));
  if (absl::Status valid = ValidateImageName(name); !valid.ok()) return Usage(absl::StrCat("image pull: ", valid.message()));
  // A registry on this host's loopback speaks plain HTTP (as docker treats localhost).
  if (!tls_given && (absl::StartsWith(bare, "127.") || absl::StartsWith(bare, "localhost:") || absl::StartsWith(bare, "localhost/") ||
                     absl::StartsWith(bare, "[::1]"))) {
    tls_verify = false;
  }
  std::string layers = absl::StrCat(images_dir, "/", kLayersDirName);
  if (absl::Status made = MakePrivateDirectory(layers, /*tighten_existing=*/true); !made.ok()) return Fail("image pull", made);
  std::string scratch = absl::StrCat(layers, "/.pull-", ::getpid());
  RemoveTree(scratch).IgnoreError();
  std::vector<std::string> argv = {"skopeo", "copy", "--quiet"};
  if (!tls_verify) argv.push_back("--src-tls-verify=false");
  argv.push_back(absl::StrCat("docker://", bare));
  argv.push_back(absl::StrCat("oci:", scratch, ":pulled"));
  ::printf("pulling %s with skopeo\n", std::string(bare).c_str());
  ::fflush(stdout);
  absl::Status copied = RunProgram(argv);
  if (!copied.ok()) {
    RemoveTree(scratch).IgnoreError();
    return Fail("image pull", copied);
  }
  ImportOptions options;
  options.images_dir = images_dir;
  options.containers_dir = DefaultContainersDir(images_dir);
  options.name = name;
  options.source = absl::StrCat("oci:", scratch, ":pulled");
  options.recorded_source = absl::StrCat("docker://", bare);
  options.log = [](const std::string& line) { ::printf("  %s\n", line.c_str()); };
  int rc = Import(options);
  RemoveTree(scratch).IgnoreError();
  return rc;
}

int ListCommand(const std::string& images_dir, const std::vector<std::string>& args) {
  bool json_out = false;
  for (const std::string& a : args) {
    if (a == "--json") {
      json_out = true;
    } else {
      return Usage("usage: corralctl images [--json]");
    }
  }
  absl::StatusOr<std::vector<StoreImage>> images = ListStore(images_dir);
  if (!images.ok()) return Fail("images", images.status());
  if (json_out) {
    nlohmann::json out = nlohmann::json::array();
    for (const StoreImage& i : *images) {
      nlohmann::json layers = nlohmann::json::array();
      for (const LayerRecord& l : i.record.layers) layers.push_back(l.diff_id);
      nlohmann::json entry = {{"name", i.name},       {"kind", i.kind},       {"source", i.source},
                              {"layers", i.layers},   {"size", i.bytes},      {"created", i.created_sec},
                              {"path", i.path}};
      if (i.kind == "oci") {
        entry["layer_ids"] = layers;
        entry["manifest_digest"] = i.record.manifest_digest;
        entry["config_digest"] = i.record.config_digest;
        entry["entrypoint"] = i.record.config.entrypoint;
        entry["cmd"] = i.record.config.cmd;
        entry["env"] = i.record.config.env;
        entry["working_dir"] = i.record.config.working_dir;
        entry["user"] = i.record.config.user;
        entry["exposed_ports"] = i.record.config.exposed_ports;
        entry["stop_signal"] = i.record.config.stop_signal;
      }
      out.push_back(entry);
    }
    ::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  // NAME and SIZE first, as before OCI images (scripts match '^NAME +SIZE').
  ::printf("%-20s %10s  %-6s %6s  %-16s %s\n", "NAME", "SIZE", "KIND", "LAYERS", "CREATED", "SOURCE");
  for (const StoreImage& i : *images) {
    char created[32] = "-";
    time_t t = i.created_sec;
    struct tm tm;
    if (t > 0 && ::localtime_r(&t, &tm) != nullptr) ::strftime(created, sizeof(created), "%Y-%m-%d %H:%M", &tm);
    ::printf("%-20s %9.1fM  %-6s %6d  %-16s %s\n", i.name.c_str(), static_cast<double>(i.bytes) / (1 << 20), i.kind.c_str(),
             i.layers, created, i.source.c_str());
  }
  return 0;
}

int RemoveCommand(const std::string& images_dir, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("usage: corralctl image rm NAME");
  absl::StatusOr<RemoveReport> report = RemoveImage(images_dir, DefaultContainersDir(images_dir), args[0]);
  if (!report.ok()) return Fail("image rm", report.status());
  ::printf("removed image %s (%d layers removed, %d kept: other images or containers use them)\n", args[0].c_str(),
           report->layers_removed, report->layers_kept);
  return 0;
}

}  // namespace corral::images::oci
