#include "runtime/oci/config.h"
#include "runtime/oci/config_json.h"

#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "runtime/capabilities.h"

namespace corral::runtime::oci {

using json = nlohmann::json;

bool Mount::is_bind() const { return (flags & MS_BIND) != 0 || type == "bind"; }

bool Resources::empty() const {
  return !memory_limit && !memory_reservation && !memory_swap && !cpu_shares && !cpu_quota && !cpu_period &&
         cpuset_cpus.empty() && cpuset_mems.empty() && !pids_limit && unified.empty();
}

const Namespace* Config::FindNamespace(uint64_t flag) const {
  for (const Namespace& ns : namespaces) {
    if (ns.flag == flag) return &ns;
  }
  return nullptr;
}

uint64_t Config::NewNamespaces() const {
  uint64_t flags = 0;
  for (const Namespace& ns : namespaces) {
    if (ns.path.empty()) flags |= ns.flag;
  }
  return flags;
}

int CapabilityNumber(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  if (!absl::StartsWith(lower, "cap_")) lower = "cap_" + lower;
  for (int cap = 0; cap < 64; ++cap) {
    if (CapabilityName(cap) == lower && !absl::StartsWith(lower, "cap_4") && !absl::StartsWith(lower, "cap_5") &&
        !absl::StartsWith(lower, "cap_6")) {
      return cap;
    }
  }
  return -1;
}

int ParseSignal(absl::string_view text) {
  int number;
  if (absl::SimpleAtoi(text, &number)) return number > 0 && number < NSIG ? number : -1;
  std::string name = absl::AsciiStrToUpper(text);
  if (absl::StartsWith(name, "SIG")) name = name.substr(3);
  if (absl::StartsWith(name, "RTMIN")) {
    int offset = 0;
    if (name.size() > 5 && (name[5] != '+' || !absl::SimpleAtoi(name.substr(6), &offset))) return -1;
    return SIGRTMIN + offset <= SIGRTMAX ? SIGRTMIN + offset : -1;
  }
  for (int sig = 1; sig < SIGRTMIN; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) return sig;
  }
  if (name == "IOT") return SIGABRT;
  if (name == "CLD") return SIGCHLD;
  return -1;
}

namespace {

absl::Status ParseHookList(const json& hooks, const char* key, const std::string& parent, std::vector<Hook>* out) {
  auto it = hooks.find(key);
  if (it == hooks.end() || it->is_null()) return absl::OkStatus();
  std::string f = Field(parent, key);
  if (!it->is_array()) return Bad(f, "expected an array", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& h = (*it)[i];
    std::string hf = Index(f, i);
    RETURN_IF_ERROR(CheckObject(h, hf));
    Hook hook;
    RETURN_IF_ERROR(GetString(h, "path", hf, &hook.path, /*required=*/true));
    if (hook.path.empty() || hook.path[0] != '/') return Bad(Field(hf, "path"), "must be an absolute path", h["path"]);
    RETURN_IF_ERROR(GetStrings(h, "args", hf, &hook.args));
    RETURN_IF_ERROR(GetStrings(h, "env", hf, &hook.env));
    RETURN_IF_ERROR(GetOptionalNumber(h, "timeout", hf, &hook.timeout));
    if (hook.timeout && *hook.timeout <= 0) return Bad(Field(hf, "timeout"), "must be positive", h["timeout"]);
    out->push_back(std::move(hook));
  }
  return absl::OkStatus();
}

absl::Status CheckVersion(const std::string& version) {
  // 1.0.0 up to 1.2.x, with pre-release tails such as "1.0.2-dev" and "1.1.0-rc.1".
  if (!absl::StartsWith(version, "1.0") && !absl::StartsWith(version, "1.1") && !absl::StartsWith(version, "1.2")) {
    return BadText("ociVersion", absl::StrCat("\"", version, "\" is not a runtime-spec version 1.0 to 1.2"));
  }
  if (version.size() > 3 && version[3] != '.' && version[3] != '-') {
    return BadText("ociVersion", absl::StrCat("\"", version, "\" is not a runtime-spec version 1.0 to 1.2"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

absl::Status CheckCrossFields(const Config& config);

absl::StatusOr<Config> ParseConfigJson(const json& root, const std::string& bundle) {
  Config config;
  config.bundle = bundle;
  RETURN_IF_ERROR(CheckObject(root, "(top level)"));
  RETURN_IF_ERROR(GetString(root, "ociVersion", "", &config.oci_version, /*required=*/true));
  RETURN_IF_ERROR(CheckVersion(config.oci_version));

  auto root_it = root.find("root");
  if (root_it == root.end() || root_it->is_null()) return BadText("root", "missing (root.path names the rootfs)");
  RETURN_IF_ERROR(CheckObject(*root_it, "root"));
  RETURN_IF_ERROR(GetString(*root_it, "path", "root", &config.root_path, /*required=*/true));
  if (config.root_path.empty()) return BadText("root.path", "empty");
  if (config.root_path[0] != '/') config.root_path = absl::StrCat(bundle, "/", config.root_path);
  RETURN_IF_ERROR(GetBool(*root_it, "readonly", "root", &config.root_readonly));

  RETURN_IF_ERROR(GetString(root, "hostname", "", &config.hostname));
  if (!config.hostname.empty()) {
    absl::Status valid = ValidateHostname(config.hostname);
    if (!valid.ok()) return Bad("hostname", std::string(valid.message()), config.hostname);
  }
  RETURN_IF_ERROR(GetString(root, "domainname", "", &config.domainname));
  if (config.domainname.size() > 64) return Bad("domainname", "longer than 64 characters", config.domainname);

  if (auto it = root.find("mounts"); it != root.end() && !it->is_null()) {
    if (!it->is_array()) return Bad("mounts", "expected an array", *it);
    for (size_t i = 0; i < it->size(); ++i) {
      Mount mount;
      RETURN_IF_ERROR(ParseMount((*it)[i], Index("mounts", i), bundle, &mount));
      config.mounts.push_back(std::move(mount));
    }
  }
  auto process_it = root.find("process");
  if (process_it == root.end() || process_it->is_null()) return BadText("process", "missing");
  RETURN_IF_ERROR(ParseProcessObject(*process_it, "process", &config.process));

  if (auto it = root.find("hooks"); it != root.end() && !it->is_null()) {
    RETURN_IF_ERROR(CheckObject(*it, "hooks"));
    RETURN_IF_ERROR(ParseHookList(*it, "prestart", "hooks", &config.hooks.prestart));
    RETURN_IF_ERROR(ParseHookList(*it, "createRuntime", "hooks", &config.hooks.create_runtime));
    RETURN_IF_ERROR(ParseHookList(*it, "createContainer", "hooks", &config.hooks.create_container));
    RETURN_IF_ERROR(ParseHookList(*it, "startContainer", "hooks", &config.hooks.start_container));
    RETURN_IF_ERROR(ParseHookList(*it, "poststart", "hooks", &config.hooks.poststart));
    RETURN_IF_ERROR(ParseHookList(*it, "poststop", "hooks", &config.hooks.poststop));
  }
  RETURN_IF_ERROR(GetStringMap(root, "annotations", "", &config.annotations));

  auto linux_it = root.find("linux");
  if (linux_it != root.end() && !linux_it->is_null()) RETURN_IF_ERROR(ParseLinuxObject(*linux_it, &config));
  RETURN_IF_ERROR(CheckCrossFields(config));
  return config;
}

// What one section cannot check alone.
absl::Status CheckCrossFields(const Config& config) {
  // Cross-field rules.
  if (config.FindNamespace(CLONE_NEWNS) == nullptr) {
    return BadText("linux.namespaces", "a mount namespace is required (the rootfs is set up in one)");
  }
  const Namespace* user = config.FindNamespace(CLONE_NEWUSER);
  bool new_user = user != nullptr && user->path.empty();
  if (new_user && (config.uid_mappings.empty() || config.gid_mappings.empty())) {
    return BadText("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings");
  }
  if (user == nullptr && (!config.uid_mappings.empty() || !config.gid_mappings.empty())) {
    return BadText("linux.uidMappings", "id mappings without a user namespace in linux.namespaces");
  }
  if (!config.hostname.empty() && config.FindNamespace(CLONE_NEWUTS) == nullptr) {
    return Bad("hostname", "needs a uts namespace (it would set the host's)", config.hostname);
  }
  for (const auto& [key, value] : config.sysctl) RETURN_IF_ERROR(CheckSysctl(config, key));
  if (!config.process.apparmor_profile.empty()) {
    struct stat st;
    if (::stat("/sys/kernel/security/apparmor", &st) != 0) {
      return Bad("process.apparmorProfile", "AppArmor is not enabled on this host", config.process.apparmor_profile);
    }
    return Bad("process.apparmorProfile", "AppArmor profiles are not supported by corral-oci yet",
               config.process.apparmor_profile);
  }
  if (!config.process.selinux_label.empty()) {
    return Bad("process.selinuxLabel", "SELinux is not supported by corral-oci", config.process.selinux_label);
  }
  for (size_t i = 0; i < config.mounts.size(); ++i) {
    if (config.mounts[i].idmap || !config.mounts[i].uid_mappings.empty()) {
      return BadText(Index("mounts", i), "idmapped mounts are not supported by corral-oci yet");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view text, const std::string& bundle) {
  json root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("config.json: not valid JSON");
  try {
    return ParseConfigJson(root, bundle);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config.json: ", e.what()));
  }
}

absl::StatusOr<Config> LoadBundle(const std::string& bundle) {
  absl::StatusOr<std::string> text = ReadFile(bundle + "/config.json");
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("bundle ", bundle, ": ", text.status().message()));
  ASSIGN_OR_RETURN(Config config, ParseConfig(*text, bundle));
  struct stat st;
  if (::stat(config.root_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: root.path: ", config.root_path, " is not a directory (a bundle needs its rootfs)"));
  }
  return config;
}

std::string DefaultConfigJson() {
  json config = {
      {"ociVersion", kSpecVersion},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}},
          {"effective", {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}},
          {"permitted", {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}},
          {"ambient", {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "corral"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
        {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}},
        {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
         {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}}}},
      {"linux",
       {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces",
         {{{"type", "pid"}}, {{"type", "network"}}, {"type", "ipc"}, {{"type", "uts"}}, {{"type", "mount"}},
          {{"type", "cgroup"}}}},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
        {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
  // {"type", "ipc"} above is a pair, not an object, in nlohmann's initializer lists: fix it.
  config["linux"]["namespaces"][2] = json{{"type", "ipc"}};
  return config.dump(2) + "\n";
}

}  // namespace corral::runtime::oci

