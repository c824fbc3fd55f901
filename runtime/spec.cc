#include "runtime/spec.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/stat.h>

#include <cctype>
#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace corral::runtime {

std::vector<int> DefaultCapabilities() {
  return {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,     CAP_FSETID,           CAP_KILL,
          CAP_SETGID, CAP_SETUID,       CAP_SETPCAP,    CAP_NET_BIND_SERVICE, CAP_NET_RAW,
          CAP_SYS_CHROOT, CAP_MKNOD,    CAP_AUDIT_WRITE, CAP_SETFCAP};
}

std::vector<int> BootCapabilities() {
  std::vector<int> caps = DefaultCapabilities();
  caps.insert(caps.end(), {CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_SYS_PTRACE,
                           CAP_SYS_TTY_CONFIG, CAP_DAC_READ_SEARCH, CAP_LINUX_IMMUTABLE, CAP_IPC_OWNER,
                           CAP_LEASE, CAP_AUDIT_CONTROL, CAP_NET_BROADCAST});
  return caps;
}

// Names and characters are quoted escaped (absl::CHexEscape): a byte of a multi-byte UTF-8
// character alone is not valid UTF-8, and sd-bus sends no reply carrying it.
absl::Status ValidateContainerName(absl::string_view name) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid container name \"", absl::CHexEscape(name), "\": ", why,
                     " (allowed: a letter or digit, then up to 63 letters, digits, '_', '.' or '-')"));
  };
  if (name.empty()) return invalid("it is empty");
  if (name.size() > 64) return invalid("it is longer than 64 characters");
  if (!absl::ascii_isalnum(static_cast<unsigned char>(name[0]))) return invalid("it must start with a letter or digit");
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return invalid(absl::StrCat("it contains '", absl::CHexEscape(absl::string_view(&c, 1)), "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateHostname(absl::string_view hostname) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid hostname \"", absl::CHexEscape(hostname), "\": ", why));
  };
  if (hostname.empty()) return invalid("it is empty");
  if (hostname.size() > 64) return invalid("it is longer than 64 characters");
  size_t label_start = 0;
  for (size_t i = 0; i <= hostname.size(); ++i) {
    if (i == hostname.size() || hostname[i] == '.') {
      absl::string_view label = hostname.substr(label_start, i - label_start);
      if (label.empty()) return invalid("it has an empty label");
      if (label.size() > 63) return invalid("a label is longer than 63 characters");
      if (label.front() == '-' || label.back() == '-') return invalid("a label starts or ends with '-'");
      label_start = i + 1;
      continue;
    }
    char c = hostname[i];
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return invalid(absl::StrCat("it contains '", absl::CHexEscape(absl::string_view(&c, 1)), "'"));
    }
  }
  return absl::OkStatus();
}

std::string HostnameFromName(absl::string_view name) {
  std::string out;
  for (absl::string_view label : absl::StrSplit(name, '.', absl::SkipEmpty())) {
    std::string clean;
    for (char c : label) {
      if (c == '_') c = '-';
      if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-') clean.push_back(c);
    }
    size_t first = clean.find_first_not_of('-');
    if (first == std::string::npos) continue;
    clean = clean.substr(first, clean.find_last_not_of('-') - first + 1);
    if (clean.size() > 63) clean.resize(63);
    while (!clean.empty() && clean.back() == '-') clean.pop_back();
    if (clean.empty()) continue;
    size_t room = 63 - std::min<size_t>(out.size() + (out.empty() ? 0 : 1), 63);
    if (room == 0) break;
    if (!out.empty()) out.push_back('.');
    if (clean.size() > room) clean.resize(room);
    while (!clean.empty() && clean.back() == '-') clean.pop_back();
    out += clean;
  }
  while (!out.empty() && (out.back() == '.' || out.back() == '-')) out.pop_back();
  return out.empty() ? "corral" : out;
}

absl::Status ParseByteSize(absl::string_view text, uint64_t* bytes) {
  absl::string_view digits = text;
  uint64_t multiplier = 1;
  if (!digits.empty()) {
    switch (absl::ascii_toupper(static_cast<unsigned char>(digits.back()))) {
      case 'K': multiplier = uint64_t{1} << 10; break;
      case 'M': multiplier = uint64_t{1} << 20; break;
      case 'G': multiplier = uint64_t{1} << 30; break;
      case 'T': multiplier = uint64_t{1} << 40; break;
      default: break;
    }
    if (multiplier != 1) digits.remove_suffix(1);
  }
  uint64_t value = 0;
  if (digits.empty() || !absl::SimpleAtoi(digits, &value) || digits[0] == '-' || digits[0] == '+') {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid size \"", text, "\": expected a number of bytes with an optional K, M, G or T suffix"));
  }
  if (value > UINT64_MAX / multiplier) {
    return absl::InvalidArgumentError(absl::StrCat("invalid size \"", text, "\": too large"));
  }
  *bytes = value * multiplier;
  return absl::OkStatus();
}

namespace {

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("spec.", field, ": ", message));
}

absl::Status ValidateIdMap(absl::string_view field, const std::vector<IdMapping>& map) {
  if (map.empty()) return FieldError(field, "a user namespace needs at least one mapping");
  if (map.size() > 340) return FieldError(field, "at most 340 lines are allowed by the kernel");
  for (const IdMapping& m : map) {
    if (m.count == 0) return FieldError(field, "a mapping has count 0");
    if (uint64_t{m.container_id} + m.count > (uint64_t{1} << 32) ||
        uint64_t{m.host_id} + m.count > (uint64_t{1} << 32)) {
      return FieldError(field, "a mapping runs past the 32-bit id range");
    }
  }
  return absl::OkStatus();
}

// The namespace set and what goes with it: id maps, a joined network namespace.
absl::Status ValidateNamespaces(const ContainerSpec& spec) {
  constexpr uint64_t kKnownNamespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                        CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWUSER;
  if (spec.namespaces & ~kKnownNamespaces) return FieldError("namespaces", "unknown namespace flag");
  if (!(spec.namespaces & CLONE_NEWNS)) {
    return FieldError("namespaces", "a mount namespace is required (the rootfs is pivot_root'ed)");
  }
  if (!(spec.namespaces & CLONE_NEWPID)) return FieldError("namespaces", "a PID namespace is required");
  if (spec.namespaces & CLONE_NEWUSER) {
    absl::Status uid = ValidateIdMap("uid_map", spec.uid_map);
    if (!uid.ok()) return uid;
    absl::Status gid = ValidateIdMap("gid_map", spec.gid_map);
    if (!gid.ok()) return gid;
    if (spec.join_netns_fd >= 0) {
      return FieldError("join_netns_fd", "joining a prepared network namespace together with a user namespace is not supported");
    }
  } else if (!spec.uid_map.empty() || !spec.gid_map.empty()) {
    return FieldError("uid_map", "id maps need a user namespace (CLONE_NEWUSER)");
  } else if (spec.idmap_rootfs) {
    return FieldError("idmap_rootfs", "an idmapped rootfs needs a user namespace (CLONE_NEWUSER)");
  }
  if (spec.join_netns_fd >= 0 && (spec.namespaces & CLONE_NEWNET)) {
    return FieldError("join_netns_fd", "cannot both join a network namespace and create a new one");
  }
  return absl::OkStatus();
}

// The process: command, environment, working directory, capabilities.
absl::Status ValidateProcess(const ContainerSpec& spec) {
  if (spec.command.empty() && spec.init != InitMode::kBoot) return FieldError("command", "no command given");
  for (const std::string& arg : spec.command) {
    if (arg.find('\0') != std::string::npos) return FieldError("command", "an argument contains a NUL byte");
  }
  if (!spec.command.empty() && spec.command[0].empty()) return FieldError("command", "the program name is empty");
  for (const std::string& kv : spec.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return FieldError("env", absl::StrCat("\"", kv, "\" is not KEY=VALUE"));
    }
  }
  if (spec.cwd.empty() || spec.cwd[0] != '/') {
    return FieldError("cwd", absl::StrCat("\"", spec.cwd, "\" is not an absolute path"));
  }
  if (spec.capabilities) {
    std::set<int> seen;
    for (int cap : *spec.capabilities) {
      if (cap < 0 || cap > CAP_LAST_CAP) return FieldError("capabilities", absl::StrCat("unknown capability ", cap));
      if (!seen.insert(cap).second) return FieldError("capabilities", absl::StrCat("capability ", cap, " listed twice"));
    }
  }
  return absl::OkStatus();
}

// The extra mounts, the user's binds and tmpfs, the devices.
absl::Status ValidateStorage(const ContainerSpec& spec) {
  for (const MountSpec& m : spec.mounts) {
    if (m.target.empty() || m.target[0] != '/') {
      return FieldError("mounts", absl::StrCat("target \"", m.target, "\" is not an absolute path"));
    }
    if (m.target.find("/../") != std::string::npos || absl::EndsWith(m.target, "/..")) {
      return FieldError("mounts", absl::StrCat("target \"", m.target, "\" contains '..'"));
    }
    if (m.source.empty()) return FieldError("mounts", absl::StrCat("mount on \"", m.target, "\" has no source"));
    if (m.fstype.empty() && m.source[0] != '/') {
      return FieldError("mounts", absl::StrCat("bind source \"", m.source, "\" is not an absolute path"));
    }
  }
  std::vector<std::string> targets;
  for (const BindSpec& b : spec.binds) {
    if (b.ready_tree < 0 && (b.source.empty() || b.source[0] != '/')) {
      return FieldError("binds", absl::StrCat("source \"", b.source, "\" is not an absolute path"));
    }
    absl::StatusOr<std::string> target = NormalizeMountTarget("bind", b.target);
    if (!target.ok()) return FieldError("binds", target.status().message());
    if (*target != b.target) return FieldError("binds", absl::StrCat("target \"", b.target, "\" is not normalized"));
    targets.push_back(b.target);
  }
  for (const TmpfsSpec& t : spec.tmpfs) {
    absl::StatusOr<std::string> target = NormalizeMountTarget("tmpfs", t.target);
    if (!target.ok()) return FieldError("tmpfs", target.status().message());
    if (*target != t.target) return FieldError("tmpfs", absl::StrCat("target \"", t.target, "\" is not normalized"));
    if (t.mode > 07777) return FieldError("tmpfs", "mode above 7777");
    targets.push_back(t.target);
  }
  if (absl::Status distinct = CheckDistinctTargets(targets); !distinct.ok()) {
    return FieldError("binds", distinct.message());
  }
  if (absl::Status devices = ValidateDevices(spec.devices); !devices.ok()) return FieldError("devices", devices.message());
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSpec(const ContainerSpec& spec) {
  if (!spec.name.empty()) {
    absl::Status name = ValidateContainerName(spec.name);
    if (!name.ok()) return FieldError("name", name.message());
  }
  if (spec.rootfs.empty()) return FieldError("rootfs", "no root file system given");
  if (spec.rootfs[0] != '/') return FieldError("rootfs", absl::StrCat("\"", spec.rootfs, "\" is not an absolute path"));
  struct stat st;
  if (::stat(spec.rootfs.c_str(), &st) != 0) {
    return FieldError("rootfs", absl::StrCat("\"", spec.rootfs, "\" does not exist"));
  }
  if (!S_ISDIR(st.st_mode)) return FieldError("rootfs", absl::StrCat("\"", spec.rootfs, "\" is not a directory"));
  if (!spec.hostname.empty()) {
    absl::Status host = ValidateHostname(spec.hostname);
    if (!host.ok()) return FieldError("hostname", host.message());
  }
  RETURN_IF_ERROR(ValidateNamespaces(spec));
  RETURN_IF_ERROR(ValidateProcess(spec));
  return ValidateStorage(spec);
}

}  // namespace corral::runtime
