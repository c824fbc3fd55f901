#include "runtime/devices.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace corral::runtime {

const std::vector<DeviceSpec>& DefaultDevices() {
  static const std::vector<DeviceSpec> kDefault = {
      {"/dev/null", 'c', 1, 3, "rwm"},    {"/dev/zero", 'c', 1, 5, "rwm"},
      {"/dev/full", 'c', 1, 7, "rwm"},    {"/dev/random", 'c', 1, 8, "rwm"},
      {"/dev/urandom", 'c', 1, 9, "rwm"}, {"/dev/tty", 'c', 5, 0, "rwm"},
  };
  return kDefault;
}

std::vector<DeviceRule> DeviceAllowList(const std::vector<DeviceSpec>& extra) {
  std::vector<DeviceRule> rules;
  auto add = [&rules](const DeviceSpec& d) {
    rules.push_back({d.type, d.major, d.minor, d.access, d.path});
  };
  for (const DeviceSpec& d : DefaultDevices()) add(d);
  add({"/dev/console", 'c', 5, 1, "rwm"});
  add({"/dev/ptmx", 'c', 5, 2, "rwm"});
  // Every pty slave, whatever its number: the console and `exec -t` ptys are of this major.
  // Read and write only: a container has no business creating pty nodes of its own.
  rules.push_back({'c', 136, -1, "rw", "char-pts"});
  for (const DeviceSpec& d : extra) add(d);
  return rules;
}

std::vector<std::pair<std::string, std::string>> SystemdDeviceAllow(const std::vector<DeviceSpec>& extra) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const DeviceRule& rule : DeviceAllowList(extra)) out.emplace_back(rule.systemd_name, rule.access);
  return out;
}

namespace {

// "rwm" in that order from any order of those letters, each at most once.
absl::Status NormalizeAccess(absl::string_view spec, absl::string_view letters, std::string* out) {
  if (letters.empty()) return absl::InvalidArgumentError(absl::StrCat("device \"", spec, "\": empty access after ':'"));
  bool seen[3] = {false, false, false};
  for (char c : letters) {
    const char* at = std::strchr("rwm", c);
    if (c == '\0' || at == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("device \"", spec, "\": access \"", letters, "\" may only hold r, w and m"));
    }
    if (seen[at - "rwm"]) {
      return absl::InvalidArgumentError(absl::StrCat("device \"", spec, "\": access letter '", std::string(1, c),
                                                     "' given twice"));
    }
    seen[at - "rwm"] = true;
  }
  out->clear();
  for (int i = 0; i < 3; ++i) {
    if (seen[i]) out->push_back("rwm"[i]);
  }
  return absl::OkStatus();
}

absl::Status ParseText(absl::string_view text, DeviceSpec* device) {
  absl::string_view path = text, access = "rwm";
  if (size_t colon = text.find(':'); colon != absl::string_view::npos) {
    path = text.substr(0, colon);
    access = text.substr(colon + 1);
  }
  if (!absl::StartsWith(path, "/dev/") || path.size() == 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("device \"", text, "\": the path must be a node under /dev/ (as /dev/fuse[:rwm])"));
  }
  if (path.find('\0') != absl::string_view::npos || absl::StrContains(path, "//") || absl::EndsWith(path, "/") ||
      absl::StrContains(absl::StrCat(path, "/"), "/../") || absl::StrContains(absl::StrCat(path, "/"), "/./")) {
    return absl::InvalidArgumentError(
        absl::StrCat("device \"", text, "\": the path must be plain (no '.', '..', '//' or trailing '/')"));
  }
  if (path.size() > 200) return absl::InvalidArgumentError(absl::StrCat("device \"", text, "\": the path is too long"));
  device->path = std::string(path);
  return NormalizeAccess(text, access, &device->access);
}

}  // namespace

absl::StatusOr<DeviceSpec> ParseDeviceSpecText(absl::string_view text) {
  DeviceSpec device;
  if (absl::Status parsed = ParseText(text, &device); !parsed.ok()) return parsed;
  return device;
}

absl::StatusOr<DeviceSpec> ParseDeviceSpec(absl::string_view text) {
  DeviceSpec device;
  if (absl::Status parsed = ParseText(text, &device); !parsed.ok()) return parsed;
  struct stat st;
  if (::lstat(device.path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("device \"", text, "\": ", device.path, " on the host: ", std::strerror(errno)));
  }
  // Only character devices: a block device would hand the container the raw disk under the
  // host's file systems (bind a mounted directory, or use a volume with --size, instead).
  if (S_ISBLK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device \"", text, "\": ", device.path,
        " on the host is a block device; only character devices can be passed (bind a mounted directory or use "
        "a volume instead)"));
  }
  if (!S_ISCHR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("device \"", text, "\": ", device.path, " on the host is not a character device"));
  }
  device.type = 'c';
  device.major = ::major(st.st_rdev);
  device.minor = ::minor(st.st_rdev);
  return device;
}

std::string FormatDeviceSpec(const DeviceSpec& device) { return absl::StrCat(device.path, ":", device.access); }

absl::Status ValidateDevices(const std::vector<DeviceSpec>& devices) {
  std::set<std::string> paths;
  for (const DeviceSpec& d : DefaultDevices()) paths.insert(d.path);
  for (const char* own : {"/dev/console", "/dev/ptmx", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd",
                          "/dev/stdin", "/dev/stdout", "/dev/stderr"}) {
    paths.insert(own);
  }
  for (const DeviceSpec& d : devices) {
    DeviceSpec parsed;
    if (absl::Status text = ParseText(FormatDeviceSpec(d), &parsed); !text.ok()) return text;
    if (parsed.access != d.access) {
      return absl::InvalidArgumentError(absl::StrCat("device \"", d.path, "\": access must be written in rwm order"));
    }
    if (d.type != 'c' && d.type != 'b') {
      return absl::InvalidArgumentError(absl::StrCat("device \"", d.path, "\": type must be 'c' or 'b'"));
    }
    for (const std::string& taken : paths) {
      if (d.path == taken || absl::StartsWith(d.path, taken + "/")) {
        return absl::InvalidArgumentError(
            absl::StrCat("device \"", d.path, "\": ", taken, " is the container's own (or given twice)"));
      }
    }
    paths.insert(d.path);
  }
  return absl::OkStatus();
}

}  // namespace corral::runtime
