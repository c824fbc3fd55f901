// config.json mounts[]: option strings to MS_* flags, propagation and file system data.
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

}  // namespace

bool IsPropagation(const std::string& name) {
  for (const PropagationOption& p : kPropagation) {
    if (name == p.name) return true;
  }
  return false;
}

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

}  // namespace corral::runtime::oci
