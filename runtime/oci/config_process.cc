// config.json process: args, env, user, capabilities, rlimits, console, oomScoreAdj.
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

absl::Status ParseRlimits(const json& p, const std::string& field, Process* process) {
  auto it = p.find("rlimits");
  if (it == p.end() || it->is_null()) return absl::OkStatus();
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
  return absl::OkStatus();
}

}  // namespace

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
  RETURN_IF_ERROR(ParseRlimits(p, field, process));
  std::optional<int> oom;
  RETURN_IF_ERROR(GetOptionalNumber(p, "oomScoreAdj", field, &oom));
  if (oom && (*oom < -1000 || *oom > 1000)) return Bad(Field(field, "oomScoreAdj"), "must be in -1000..1000", p["oomScoreAdj"]);
  process->oom_score_adj = oom;
  RETURN_IF_ERROR(GetString(p, "apparmorProfile", field, &process->apparmor_profile));
  RETURN_IF_ERROR(GetString(p, "selinuxLabel", field, &process->selinux_label));
  return absl::OkStatus();
}

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

}  // namespace corral::runtime::oci
