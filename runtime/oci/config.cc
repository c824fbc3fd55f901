#include "runtime/oci/config.h"

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

// What the error messages show of a bad value: its JSON, cut short.
std::string Show(const json& value) {
  std::string text = value.dump();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

absl::Status Bad(absl::string_view field, absl::string_view what, const json& value) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": ", what, ", got ", Show(value)));
}

absl::Status BadText(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": ", what));
}

std::string Field(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}
std::string Index(absl::string_view parent, size_t i) { return absl::StrCat(parent, "[", i, "]"); }

absl::Status CheckObject(const json& value, absl::string_view field) {
  if (!value.is_object()) return Bad(field, "expected an object", value);
  return absl::OkStatus();
}

absl::Status GetString(const json& object, const char* key, absl::string_view parent, std::string* out,
                       bool required = false) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) return BadText(Field(parent, key), "missing (a string is required)");
    return absl::OkStatus();
  }
  if (!it->is_string()) return Bad(Field(parent, key), "expected a string", *it);
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetBool(const json& object, const char* key, absl::string_view parent, bool* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return Bad(Field(parent, key), "expected true or false", *it);
  *out = it->get<bool>();
  return absl::OkStatus();
}

template <typename T>
absl::Status GetNumber(const json& value, absl::string_view field, T* out) {
  if (!value.is_number_integer()) return Bad(field, "expected an integer", value);
  if constexpr (std::is_signed_v<T>) {
    if (value.is_number_unsigned()) {
      uint64_t v = value.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return Bad(field, "out of range", value);
      *out = static_cast<T>(v);
      return absl::OkStatus();
    }
    int64_t v = value.get<int64_t>();
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) || v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
      return Bad(field, "out of range", value);
    }
    *out = static_cast<T>(v);
  } else {
    if (!value.is_number_unsigned()) return Bad(field, "expected a non-negative integer", value);
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return Bad(field, "out of range", value);
    *out = static_cast<T>(v);
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status GetOptionalNumber(const json& object, const char* key, absl::string_view parent, std::optional<T>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  T value;
  RETURN_IF_ERROR(GetNumber(*it, Field(parent, key), &value));
  *out = value;
  return absl::OkStatus();
}

absl::Status GetStrings(const json& object, const char* key, absl::string_view parent, std::vector<std::string>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  std::string field = Field(parent, key);
  if (!it->is_array()) return Bad(field, "expected an array of strings", *it);
  out->clear();
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) return Bad(Index(field, i), "expected a string", (*it)[i]);
    out->push_back((*it)[i].get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status GetStringMap(const json& object, const char* key, absl::string_view parent,
                          std::map<std::string, std::string>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  std::string field = Field(parent, key);
  RETURN_IF_ERROR(CheckObject(*it, field));
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) return Bad(Field(field, k), "expected a string", v);
    (*out)[k] = v.get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status ParseIdMappings(const json& object, const char* key, absl::string_view parent,
                             std::vector<IdMapping>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  std::string field = Field(parent, key);
  if (!it->is_array()) return Bad(field, "expected an array of {containerID, hostID, size}", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    std::string f = Index(field, i);
    RETURN_IF_ERROR(CheckObject(m, f));
    IdMapping mapping;
    for (const char* k : {"containerID", "hostID", "size"}) {
      if (!m.contains(k)) return BadText(Field(f, k), "missing");
    }
    RETURN_IF_ERROR(GetNumber(m["containerID"], Field(f, "containerID"), &mapping.container_id));
    RETURN_IF_ERROR(GetNumber(m["hostID"], Field(f, "hostID"), &mapping.host_id));
    RETURN_IF_ERROR(GetNumber(m["size"], Field(f, "size"), &mapping.count));
    if (mapping.count == 0) return Bad(Field(f, "size"), "must be at least 1", m["size"]);
    if (uint64_t{mapping.container_id} + mapping.count > (uint64_t{1} << 32) ||
        uint64_t{mapping.host_id} + mapping.count > (uint64_t{1} << 32)) {
      return Bad(f, "range passes 2^32", m);
    }
    out->push_back(mapping);
  }
  return absl::OkStatus();
}

// Mount option strings as runc reads them (mount(8)'s names).
struct FlagOption {
  const char* name;
  bool clear;
  unsigned long flag;
};
constexpr FlagOption kFlagOptions[] = {
    {"ro", false, MS_RDONLY},           {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},       {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},         {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},       {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},     {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},       {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},        {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},  {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},   {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},           {"rbind", false, MS_BIND | MS_REC},
    {"defaults", false, 0},
    // The recursive forms (runtime-spec 1.1, mount_setattr): applied as their plain ones, and
    // corral's bind mounts are recursive already.
    {"rro", false, MS_RDONLY},          {"rrw", true, MS_RDONLY},
    {"rnosuid", false, MS_NOSUID},      {"rsuid", true, MS_NOSUID},
    {"rnodev", false, MS_NODEV},        {"rdev", true, MS_NODEV},
    {"rnoexec", false, MS_NOEXEC},      {"rexec", true, MS_NOEXEC},
    {"rnoatime", false, MS_NOATIME},    {"ratime", true, MS_NOATIME},
    {"rrelatime", false, MS_RELATIME},  {"rnorelatime", true, MS_RELATIME},
    {"rstrictatime", false, MS_STRICTATIME}, {"rnostrictatime", true, MS_STRICTATIME},
    {"rnodiratime", false, MS_NODIRATIME}, {"rdiratime", true, MS_NODIRATIME},
};
struct PropagationOption {
  const char* name;
  unsigned long flag;
};
constexpr PropagationOption kPropagation[] = {
    {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC},       {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},              {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

absl::Status ApplyMountOptions(Mount* mount, absl::string_view field) {
  std::vector<std::string> data;
  for (size_t i = 0; i < mount->options.size(); ++i) {
    const std::string& option = mount->options[i];
    if (option.empty()) return BadText(Index(field, i), "empty mount option");
    bool known = false;
    for (const FlagOption& f : kFlagOptions) {
      if (option == f.name) {
        if (f.clear) {
          mount->flags &= ~f.flag;
        } else {
          mount->flags |= f.flag;
        }
        known = true;
        break;
      }
    }
    for (const PropagationOption& p : kPropagation) {
      if (!known && option == p.name) {
        mount->propagation = p.flag;
        known = true;
      }
    }
    if (known) continue;
    if (option == "idmap" || option == "ridmap") {
      mount->idmap = true;
    } else if (option == "tmpcopyup" || option == "copy-symlink" || absl::StartsWith(option, "x-")) {
      // tmpcopyup (crun's) and x- options are for other tools: nothing for the kernel.
    } else {
      data.push_back(option);  // mode=, size=, newinstance, ptmxmode=, gid=, ...
    }
  }
  mount->data = absl::StrJoin(data, ",");
  return absl::OkStatus();
}

absl::Status ParseMount(const json& m, const std::string& field, const std::string& bundle, Mount* mount) {
  RETURN_IF_ERROR(CheckObject(m, field));
  RETURN_IF_ERROR(GetString(m, "destination", field, &mount->destination, /*required=*/true));
  if (mount->destination.empty() || mount->destination[0] != '/') {
    return Bad(Field(field, "destination"), "must be an absolute path", m["destination"]);
  }
  for (absl::string_view part : absl::StrSplit(mount->destination, '/')) {
    if (part == "..") return Bad(Field(field, "destination"), "must not contain \"..\"", m["destination"]);
  }
  RETURN_IF_ERROR(GetString(m, "type", field, &mount->type));
  RETURN_IF_ERROR(GetString(m, "source", field, &mount->source));
  RETURN_IF_ERROR(GetStrings(m, "options", field, &mount->options));
  RETURN_IF_ERROR(ApplyMountOptions(mount, Field(field, "options")));
  RETURN_IF_ERROR(ParseIdMappings(m, "uidMappings", field, &mount->uid_mappings));
  RETURN_IF_ERROR(ParseIdMappings(m, "gidMappings", field, &mount->gid_mappings));
  if (mount->type == "bind") mount->flags |= MS_BIND;
  if (mount->is_bind()) {
    if (mount->source.empty()) return BadText(Field(field, "source"), "a bind mount needs a source");
    if (mount->source[0] != '/') mount->source = absl::StrCat(bundle, "/", mount->source);
  } else if (mount->type.empty()) {
    return BadText(Field(field, "type"), absl::StrCat("missing for the non-bind mount on ", mount->destination));
  }
  if (mount->idmap && mount->uid_mappings.empty() != mount->gid_mappings.empty()) {
    return BadText(field, "an idmap mount needs both uidMappings and gidMappings or neither");
  }
  return absl::OkStatus();
}

struct NamespaceType {
  const char* name;
  uint64_t flag;
};
constexpr NamespaceType kNamespaceTypes[] = {
    {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},  {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"user", CLONE_NEWUSER},   {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

struct RlimitName {
  const char* name;
  int resource;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

absl::Status ParseCapabilitySet(const json& caps, const char* key, absl::string_view parent, uint64_t* mask) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(GetStrings(caps, key, parent, &names));
  for (size_t i = 0; i < names.size(); ++i) {
    int cap = CapabilityNumber(names[i]);
    if (cap < 0) return Bad(Index(Field(parent, key), i), "unknown capability", names[i]);
    *mask |= uint64_t{1} << cap;
  }
  return absl::OkStatus();
}

absl::Status ParseProcessObject(const json& p, const std::string& field, Process* process) {
  RETURN_IF_ERROR(CheckObject(p, field));
  RETURN_IF_ERROR(GetBool(p, "terminal", field, &process->terminal));
  if (auto it = p.find("consoleSize"); it != p.end() && !it->is_null()) {
    std::string f = Field(field, "consoleSize");
    RETURN_IF_ERROR(CheckObject(*it, f));
    if (it->contains("height")) RETURN_IF_ERROR(GetNumber((*it)["height"], Field(f, "height"), &process->console_height));
    if (it->contains("width")) RETURN_IF_ERROR(GetNumber((*it)["width"], Field(f, "width"), &process->console_width));
  }
  RETURN_IF_ERROR(GetStrings(p, "args", field, &process->args));
  if (process->args.empty()) return BadText(Field(field, "args"), "missing or empty (the command to run)");
  if (process->args[0].empty()) return BadText(Field(field, "args[0]"), "empty command");
  RETURN_IF_ERROR(GetStrings(p, "env", field, &process->env));
  for (size_t i = 0; i < process->env.size(); ++i) {
    if (process->env[i].find('=') == std::string::npos || process->env[i][0] == '=') {
      return Bad(Index(Field(field, "env"), i), "expected KEY=VALUE", process->env[i]);
    }
  }
  RETURN_IF_ERROR(GetString(p, "cwd", field, &process->cwd));
  if (process->cwd.empty() || process->cwd[0] != '/') {
    return Bad(Field(field, "cwd"), "must be an absolute path", p.value("cwd", json()));
  }
  if (auto it = p.find("user"); it != p.end() && !it->is_null()) {
    std::string f = Field(field, "user");
    RETURN_IF_ERROR(CheckObject(*it, f));
    if (it->contains("uid")) RETURN_IF_ERROR(GetNumber((*it)["uid"], Field(f, "uid"), &process->uid));
    if (it->contains("gid")) RETURN_IF_ERROR(GetNumber((*it)["gid"], Field(f, "gid"), &process->gid));
    if (process->uid == static_cast<uid_t>(-1)) return Bad(Field(f, "uid"), "4294967295 is not a user", (*it)["uid"]);
    if (process->gid == static_cast<gid_t>(-1)) return Bad(Field(f, "gid"), "4294967295 is not a group", (*it)["gid"]);
    std::optional<uint32_t> umask;
    RETURN_IF_ERROR(GetOptionalNumber(*it, "umask", f, &umask));
    if (umask) {
      if (*umask > 0777) return Bad(Field(f, "umask"), "must be at most 0777 (511)", (*it)["umask"]);
      process->umask = static_cast<mode_t>(*umask);
    }
    if (auto g = it->find("additionalGids"); g != it->end() && !g->is_null()) {
      std::string gf = Field(f, "additionalGids");
      if (!g->is_array()) return Bad(gf, "expected an array of group ids", *g);
      for (size_t i = 0; i < g->size(); ++i) {
        gid_t gid;
        RETURN_IF_ERROR(GetNumber((*g)[i], Index(gf, i), &gid));
        process->additional_gids.push_back(gid);
      }
      if (process->additional_gids.size() > 65536) return BadText(gf, "more than 65536 groups");
    }
    std::string username;
    RETURN_IF_ERROR(GetString(*it, "username", f, &username));
  }
  if (auto it = p.find("capabilities"); it != p.end() && !it->is_null()) {
    std::string f = Field(field, "capabilities");
    RETURN_IF_ERROR(CheckObject(*it, f));
    Capabilities caps;
    RETURN_IF_ERROR(ParseCapabilitySet(*it, "bounding", f, &caps.bounding));
    RETURN_IF_ERROR(ParseCapabilitySet(*it, "effective", f, &caps.effective));
    RETURN_IF_ERROR(ParseCapabilitySet(*it, "inheritable", f, &caps.inheritable));
    RETURN_IF_ERROR(ParseCapabilitySet(*it, "permitted", f, &caps.permitted));
    RETURN_IF_ERROR(ParseCapabilitySet(*it, "ambient", f, &caps.ambient));
    process->capabilities = caps;
  }
  RETURN_IF_ERROR(GetBool(p, "noNewPrivileges", field, &process->no_new_privileges));
  if (auto it = p.find("rlimits"); it != p.end() && !it->is_null()) {
    std::string f = Field(field, "rlimits");
    if (!it->is_array()) return Bad(f, "expected an array", *it);
    for (size_t i = 0; i < it->size(); ++i) {
      const json& r = (*it)[i];
      std::string rf = Index(f, i);
      RETURN_IF_ERROR(CheckObject(r, rf));
      std::string type;
      RETURN_IF_ERROR(GetString(r, "type", rf, &type, /*required=*/true));
      Rlimit limit;
      limit.resource = -1;
      for (const RlimitName& n : kRlimits) {
        if (type == n.name) limit.resource = n.resource;
      }
      if (limit.resource < 0) return Bad(Field(rf, "type"), "unknown rlimit", type);
      for (const Rlimit& seen : process->rlimits) {
        if (seen.resource == limit.resource) return Bad(Field(rf, "type"), "given twice", type);
      }
      if (!r.contains("soft") || !r.contains("hard")) return BadText(rf, "needs both soft and hard");
      RETURN_IF_ERROR(GetNumber(r["soft"], Field(rf, "soft"), &limit.soft));
      RETURN_IF_ERROR(GetNumber(r["hard"], Field(rf, "hard"), &limit.hard));
      if (limit.soft > limit.hard) return Bad(Field(rf, "soft"), "is above hard", r["soft"]);
      process->rlimits.push_back(limit);
    }
  }
  std::optional<int> oom;
  RETURN_IF_ERROR(GetOptionalNumber(p, "oomScoreAdj", field, &oom));
  if (oom && (*oom < -1000 || *oom > 1000)) return Bad(Field(field, "oomScoreAdj"), "must be in -1000..1000", p["oomScoreAdj"]);
  process->oom_score_adj = oom;
  RETURN_IF_ERROR(GetString(p, "apparmorProfile", field, &process->apparmor_profile));
  RETURN_IF_ERROR(GetString(p, "selinuxLabel", field, &process->selinux_label));
  return absl::OkStatus();
}

absl::Status ParseResourcesObject(const json& r, const std::string& field, Resources* res) {
  RETURN_IF_ERROR(CheckObject(r, field));
  if (auto it = r.find("memory"); it != r.end() && !it->is_null()) {
    std::string f = Field(field, "memory");
    RETURN_IF_ERROR(CheckObject(*it, f));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "limit", f, &res->memory_limit));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "reservation", f, &res->memory_reservation));
    RETURN_IF_ERROR(GetOptionalNumber(*it, "swap", f, &res->memory_swap));
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

}  // namespace

absl::StatusOr<Process> ParseProcess(absl::string_view text) {
  json p = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (p.is_discarded()) return absl::InvalidArgumentError("process.json: not valid JSON");
  Process process;
  try {
    RETURN_IF_ERROR(ParseProcessObject(p, "process", &process));
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("process.json: ", e.what()));
  }
  return process;
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
  if (linux_it != root.end() && !linux_it->is_null()) {
    const json& l = *linux_it;
    RETURN_IF_ERROR(CheckObject(l, "linux"));
    config.has_linux = true;
    if (auto it = l.find("namespaces"); it != l.end() && !it->is_null()) {
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
          return Bad(Field(f, "type"), "unknown namespace type (pid, network, mount, ipc, uts, user, cgroup, time)",
                     n["type"]);
        }
        if (config.FindNamespace(ns.flag) != nullptr) return Bad(Field(f, "type"), "given twice", n["type"]);
        RETURN_IF_ERROR(GetString(n, "path", f, &ns.path));
        if (!ns.path.empty() && ns.path[0] != '/') return Bad(Field(f, "path"), "must be an absolute path", n["path"]);
        if (ns.flag == CLONE_NEWNS && !ns.path.empty()) {
          return Bad(Field(f, "path"), "joining a mount namespace is not supported (the rootfs needs a new one)", n["path"]);
        }
        config.namespaces.push_back(std::move(ns));
      }
    }
    RETURN_IF_ERROR(ParseIdMappings(l, "uidMappings", "linux", &config.uid_mappings));
    RETURN_IF_ERROR(ParseIdMappings(l, "gidMappings", "linux", &config.gid_mappings));
    if (auto it = l.find("devices"); it != l.end() && !it->is_null()) {
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
        config.devices.push_back(std::move(device));
      }
    }
    if (auto it = l.find("resources"); it != l.end() && !it->is_null()) {
      RETURN_IF_ERROR(ParseResourcesObject(*it, "linux.resources", &config.resources));
    }
    RETURN_IF_ERROR(GetString(l, "cgroupsPath", "linux", &config.cgroups_path));
    if (absl::StrContains(config.cgroups_path, "..")) return Bad("linux.cgroupsPath", "must not contain \"..\"", config.cgroups_path);
    RETURN_IF_ERROR(GetStringMap(l, "sysctl", "linux", &config.sysctl));
    if (auto it = l.find("seccomp"); it != l.end() && !it->is_null()) {
      Seccomp seccomp;
      RETURN_IF_ERROR(ParseSeccomp(*it, "linux.seccomp", &seccomp));
      seccomp.source = it->dump();  // keys sorted: the same profile gives the same text
      config.seccomp = std::move(seccomp);
    }
    RETURN_IF_ERROR(GetStrings(l, "maskedPaths", "linux", &config.masked_paths));
    RETURN_IF_ERROR(GetStrings(l, "readonlyPaths", "linux", &config.readonly_paths));
    for (const auto* list : {&config.masked_paths, &config.readonly_paths}) {
      const char* name = list == &config.masked_paths ? "linux.maskedPaths" : "linux.readonlyPaths";
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string& path = (*list)[i];
        if (path.empty() || path[0] != '/' || absl::StrContains(path, "/..")) {
          return Bad(Index(name, i), "must be an absolute path without \"..\"", path);
        }
        if (!absl::StartsWith(path, "/proc/") && !absl::StartsWith(path, "/sys/")) {
          return Bad(Index(name, i), "only paths under /proc/ and /sys/ are supported", path);
        }
      }
    }
    RETURN_IF_ERROR(GetString(l, "rootfsPropagation", "linux", &config.rootfs_propagation));
    if (!config.rootfs_propagation.empty()) {
      bool known = false;
      for (const PropagationOption& p : kPropagation) known |= config.rootfs_propagation == p.name;
      if (!known) return Bad("linux.rootfsPropagation", "unknown propagation", config.rootfs_propagation);
    }
    RETURN_IF_ERROR(GetString(l, "mountLabel", "linux", &config.mount_label));
    if (auto it = l.find("intelRdt"); it != l.end() && !it->is_null()) {
      return BadText("linux.intelRdt", "Intel RDT is not supported");
    }
  }

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
  if (!config.hooks.create_container.empty() || !config.hooks.start_container.empty()) {
    return BadText("hooks", "createContainer and startContainer hooks are not supported by corral-oci yet");
  }
  return config;
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
