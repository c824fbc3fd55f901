// config.json linux: namespaces, devices, resources, seccomp, sysctl, masked and read-only paths.
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

namespace {

struct NamespaceType {
  const char* name;
  uint64_t flag;
};
constexpr NamespaceType kNamespaceTypes[] = {
    {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},  {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"user", CLONE_NEWUSER},   {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

}  // namespace

absl::Status ParseResourcesObject(const json& r, const std::string& field, Resources* res) {
  RETURN_IF_ERROR(CheckObject(r, field));
  if (auto it = r.find("memory"); it != r.end() && !it->is_null()) {
    std::string f = Field(field, "memory");
    RETURN_IF_ERROR(CheckObject(*it, f));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "limit", f, &res->memory_limit));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "reservation", f, &res->memory_reservation));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "swap", f, &res->memory_swap));
    // 0 is "not set", as runc reads it (docker and podman write zeros for what was not asked).
    if (res->memory_limit == 0) res->memory_limit.reset();
    if (res->memory_reservation == 0) res->memory_reservation.reset();
    if (res->memory_swap == 0) res->memory_swap.reset();
    if (res->memory_limit && *res->memory_limit < -1) return Bad(Field(f, "limit"), "must be -1 (none) or bytes", (*it)["limit"]);
    if (res->memory_limit && *res->memory_limit > 0 && *res->memory_limit < 4096 * 16) {
      return Bad(Field(f, "limit"), "below 64 KiB: the container could not even start", (*it)["limit"]);
    }
  }
  if (auto it = r.find("cpu"); it != r.end() && !it->is_null()) {
    std::string f = Field(field, "cpu");
    RETURN_IF_ERROR(CheckObject(*it, f));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "shares", f, &res->cpu_shares));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "quota", f, &res->cpu_quota));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "period", f, &res->cpu_period));
    RETURN_IF_ERROR(GetString(*it, "cpus", f, &res->cpuset_cpus));
    RETURN_IF_ERROR(GetString(*it, "mems", f, &res->cpuset_mems));
    if (res->cpu_shares == 0u) res->cpu_shares.reset();
    if (res->cpu_quota == 0) res->cpu_quota.reset();
    if (res->cpu_period == 0u) res->cpu_period.reset();
    if (res->cpu_shares && (*res->cpu_shares < 2 || *res->cpu_shares > 262144)) {
      return Bad(Field(f, "shares"), "must be in 2..262144", (*it)["shares"]);
    }
    if (res->cpu_period && (*res->cpu_period < 1000 || *res->cpu_period > 1000000)) {
      return Bad(Field(f, "period"), "must be in 1000..1000000 microseconds", (*it)["period"]);
    }
  }
  if (auto it = r.find("pids"); it != r.end() && !it->is_null()) {
    std::string f = Field(field, "pids");
    RETURN_IF_ERROR(CheckObject(*it, f));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "limit", f, &res->pids_limit));
    if (res->pids_limit == 0) res->pids_limit.reset();
  }
  RETURN_IF_ERROR(GetStringMap(r, "unified", field, &res->unified));
  for (const auto& [file, value] : res->unified) {
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      return Bad(Field(field, "unified"), "a key must be a file name in the cgroup directory", file);
    }
  }
  if (auto it = r.find("devices"); it != r.end() && !it->is_null()) {
    std::string f = Field(field, "devices");
    if (!it->is_array()) return Bad(f, "expected an array", *it);
    for (size_t i = 0; i < it->size(); ++i) {
      const json& d = (*it)[i];
      std::string df = Index(f, i);
      RETURN_IF_ERROR(CheckObject(d, df));
      DeviceRule rule;
      if (!d.contains("allow")) return BadText(Field(df, "allow"), "missing");
      RETURN_IF_ERROR(GetBool(d, "allow", df, &rule.allow));
      std::string type = "a";
      RETURN_IF_ERROR(GetString(d, "type", df, &type));
      if (type != "a" && type != "c" && type != "b") return Bad(Field(df, "type"), "must be a, c or b", d["type"]);
      rule.type = type[0];
      std::optional<int64_t> major, minor;
      RETURN_IF_ERROR(GetOptionalNumber(d, "major", df, &major));
      RETURN_IF_ERROR(GetOptionalNumber(d, "minor", df, &minor));
      rule.major = major.value_or(-1);
      rule.minor = minor.value_or(-1);
      RETURN_IF_ERROR(GetString(d, "access", df, &rule.access));
      for (char c : rule.access) {
        if (c != 'r' && c != 'w' && c != 'm') return Bad(Field(df, "access"), "letters r, w, m only", d["access"]);
      }
      res->devices.push_back(rule);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSeccomp(const json& s, const std::string& field, Seccomp* seccomp) {
  RETURN_IF_ERROR(CheckObject(s, field));
  RETURN_IF_ERROR(GetString(s, "defaultAction", field, &seccomp->default_action, /*required=*/true));
  RETURN_IF_ERROR(GetOptionalNumber(s, "defaultErrnoRet", field, &seccomp->default_errno_ret));
  RETURN_IF_ERROR(GetStrings(s, "architectures", field, &seccomp->architectures));
  RETURN_IF_ERROR(GetStrings(s, "flags", field, &seccomp->flags));
  if (auto it = s.find("listenerPath"); it != s.end() && !it->is_null() && !it->get_ref<const json::string_t&>().empty()) {
    return Bad(Field(field, "listenerPath"), "seccomp notify listeners are not supported", *it);
  }
  if (auto it = s.find("syscalls"); it != s.end() && !it->is_null()) {
    std::string f = Field(field, "syscalls");
    if (!it->is_array()) return Bad(f, "expected an array", *it);
    for (size_t i = 0; i < it->size(); ++i) {
      const json& r = (*it)[i];
      std::string rf = Index(f, i);
      RETURN_IF_ERROR(CheckObject(r, rf));
      SeccompRule rule;
      RETURN_IF_ERROR(GetStrings(r, "names", rf, &rule.names));
      if (rule.names.empty()) return BadText(Field(rf, "names"), "missing or empty");
      RETURN_IF_ERROR(GetString(r, "action", rf, &rule.action, /*required=*/true));
      RETURN_IF_ERROR(GetOptionalNumber(r, "errnoRet", rf, &rule.errno_ret));
      if (auto a = r.find("args"); a != r.end() && !a->is_null()) {
        std::string af = Field(rf, "args");
        if (!a->is_array()) return Bad(af, "expected an array", *a);
        for (size_t j = 0; j < a->size(); ++j) {
          const json& arg = (*a)[j];
          std::string argf = Index(af, j);
          RETURN_IF_ERROR(CheckObject(arg, argf));
          SeccompArg parsed;
          if (!arg.contains("index")) return BadText(Field(argf, "index"), "missing");
          RETURN_IF_ERROR(GetNumber(arg["index"], Field(argf, "index"), &parsed.index));
          if (parsed.index > 5) return Bad(Field(argf, "index"), "a syscall has arguments 0..5", arg["index"]);
          if (arg.contains("value")) RETURN_IF_ERROR(GetNumber(arg["value"], Field(argf, "value"), &parsed.value));
          if (arg.contains("valueTwo")) RETURN_IF_ERROR(GetNumber(arg["valueTwo"], Field(argf, "valueTwo"), &parsed.value_two));
          RETURN_IF_ERROR(GetString(arg, "op", argf, &parsed.op, /*required=*/true));
          rule.args.push_back(parsed);
        }
      }
      seccomp->syscalls.push_back(std::move(rule));
    }
  }
  return absl::OkStatus();
}

// Namespaced sysctls and the namespace each needs (runc's validation): a key that is not in
// one would write the host's value.
absl::Status CheckSysctl(const Config& config, const std::string& key) {
  auto needs = [&](uint64_t flag, const char* name) -> absl::Status {
    const Namespace* ns = config.FindNamespace(flag);
    if (ns == nullptr) {
      return BadText(Field("linux.sysctl", key), absl::StrCat("needs a ", name, " namespace (it would change the host's)"));
    }
    return absl::OkStatus();
  };
  if (absl::StartsWith(key, "net.")) return needs(CLONE_NEWNET, "network");
  if (key == "kernel.hostname" || key == "kernel.domainname") return needs(CLONE_NEWUTS, "uts");
  if (absl::StartsWith(key, "kernel.shm") || absl::StartsWith(key, "kernel.msg") || key == "kernel.sem" ||
      absl::StartsWith(key, "fs.mqueue.")) {
    return needs(CLONE_NEWIPC, "ipc");
  }
  return BadText(Field("linux.sysctl", key), "not a namespaced sysctl (only net.*, IPC and UTS keys are)");
}

absl::StatusOr<Resources> ParseResources(absl::string_view text) {
  json r = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (r.is_discarded()) return absl::InvalidArgumentError("resources: not valid JSON");
  Resources res;
  try {
    RETURN_IF_ERROR(ParseResourcesObject(r, "resources", &res));
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("resources: ", e.what()));
  }
  return res;
}

namespace {

absl::Status ParseNamespaces(const json& l, Config* config) {
  auto it = l.find("namespaces");
  if (it == l.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Bad("linux.namespaces", "expected an array", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& n = (*it)[i];
    std::string f = Index("linux.namespaces", i);
    RETURN_IF_ERROR(CheckObject(n, f));
    Namespace ns;
    RETURN_IF_ERROR(GetString(n, "type", f, &ns.type, /*required=*/true));
    for (const NamespaceType& t : kNamespaceTypes) {
      if (ns.type == t.name) ns.flag = t.flag;
    }
    if (ns.flag == 0) {
      return Bad(Field(f, "type"), "unknown namespace type (pid, network, mount, ipc, uts, user, cgroup, time)", n["type"]);
    }
    if (config->FindNamespace(ns.flag) != nullptr) return Bad(Field(f, "type"), "given twice", n["type"]);
    RETURN_IF_ERROR(GetString(n, "path", f, &ns.path));
    if (!ns.path.empty() && ns.path[0] != '/') return Bad(Field(f, "path"), "must be an absolute path", n["path"]);
    if (ns.flag == CLONE_NEWNS && !ns.path.empty()) {
      return Bad(Field(f, "path"), "joining a mount namespace is not supported (the rootfs needs a new one)", n["path"]);
    }
    config->namespaces.push_back(std::move(ns));
  }
  return absl::OkStatus();
}

absl::Status ParseDevices(const json& l, Config* config) {
  auto it = l.find("devices");
  if (it == l.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return Bad("linux.devices", "expected an array", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& d = (*it)[i];
    std::string f = Index("linux.devices", i);
    RETURN_IF_ERROR(CheckObject(d, f));
    Device device;
    RETURN_IF_ERROR(GetString(d, "path", f, &device.path, /*required=*/true));
    if (!absl::StartsWith(device.path, "/dev/") || absl::StrContains(device.path, "/../")) {
      return Bad(Field(f, "path"), "must be a path under /dev/", d["path"]);
    }
    std::string type;
    RETURN_IF_ERROR(GetString(d, "type", f, &type, /*required=*/true));
    if (type != "c" && type != "b" && type != "u" && type != "p") return Bad(Field(f, "type"), "must be c, b, u or p", d["type"]);
    device.type = type[0];
    if (device.type != 'p') {
      if (!d.contains("major") || !d.contains("minor")) return BadText(f, "a c, b or u device needs major and minor");
      RETURN_IF_ERROR(GetNumber(d["major"], Field(f, "major"), &device.major));
      RETURN_IF_ERROR(GetNumber(d["minor"], Field(f, "minor"), &device.minor));
    }
    RETURN_IF_ERROR(GetOptionalNumber(d, "fileMode", f, &device.file_mode));
    RETURN_IF_ERROR(GetOptionalNumber(d, "uid", f, &device.uid));
    RETURN_IF_ERROR(GetOptionalNumber(d, "gid", f, &device.gid));
    config->devices.push_back(std::move(device));
  }
  return absl::OkStatus();
}

absl::Status ParseMaskedAndReadonlyPaths(const json& l, Config* config) {
  RETURN_IF_ERROR(GetStrings(l, "maskedPaths", "linux", &config->masked_paths));
  RETURN_IF_ERROR(GetStrings(l, "readonlyPaths", "linux", &config->readonly_paths));
  for (const auto* list : {&config->masked_paths, &config->readonly_paths}) {
    const char* name = list == &config->masked_paths ? "linux.maskedPaths" : "linux.readonlyPaths";
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& path = (*list)[i];
      if (path.empty() || path[0] != '/' || absl::StrContains(path, "/..")) {
        return Bad(Index(name, i), "must be an absolute path without \"..\"", path);
      }
      if (path == "/") return Bad(Index(name, i), "cannot be the root itself", path);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseLinuxObject(const json& l, Config* config) {
  RETURN_IF_ERROR(CheckObject(l, "linux"));
  config->has_linux = true;
  RETURN_IF_ERROR(ParseNamespaces(l, config));
  RETURN_IF_ERROR(ParseIdMappings(l, "uidMappings", "linux", &config->uid_mappings));
  RETURN_IF_ERROR(ParseIdMappings(l, "gidMappings", "linux", &config->gid_mappings));
  RETURN_IF_ERROR(ParseDevices(l, config));
  if (auto it = l.find("resources"); it != l.end() && !it->is_null()) {
    RETURN_IF_ERROR(ParseResourcesObject(*it, "linux.resources", &config->resources));
  }
  RETURN_IF_ERROR(GetString(l, "cgroupsPath", "linux", &config->cgroups_path));
  if (absl::StrContains(config->cgroups_path, "..")) {
    return Bad("linux.cgroupsPath", "must not contain \"..\"", config->cgroups_path);
  }
  RETURN_IF_ERROR(GetStringMap(l, "sysctl", "linux", &config->sysctl));
  if (auto it = l.find("seccomp"); it != l.end() && !it->is_null()) {
    Seccomp seccomp;
    RETURN_IF_ERROR(ParseSeccomp(*it, "linux.seccomp", &seccomp));
    seccomp.source = it->dump();  // keys sorted: the same profile gives the same text
    config->seccomp = std::move(seccomp);
  }
  RETURN_IF_ERROR(ParseMaskedAndReadonlyPaths(l, config));
  RETURN_IF_ERROR(GetString(l, "rootfsPropagation", "linux", &config->rootfs_propagation));
  if (!config->rootfs_propagation.empty() && !IsPropagation(config->rootfs_propagation)) {
    return Bad("linux.rootfsPropagation", "unknown propagation", config->rootfs_propagation);
  }
  RETURN_IF_ERROR(GetString(l, "mountLabel", "linux", &config->mount_label));
  if (auto it = l.find("intelRdt"); it != l.end() && !it->is_null()) {
    return BadText("linux.intelRdt", "Intel RDT is not supported");
  }
  return absl::OkStatus();
}

}  // namespace corral::runtime::oci
