// corral-oci cgroups: cgroupsPath to directories, limits written, pids listed (cgroupfs driver).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "runtime/attach.h"
#include "runtime/capabilities.h"
#include "runtime/clone.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/oci/config.h"
#include "runtime/oci/launch.h"
#include "runtime/spec.h"
#include "tools/oci/cgroups.h"
#include "tools/oci/default_cgroup.h"
#include "runtime/cgroup/device_filter.h"
#include "runtime/devices.h"
#include "tools/oci/state.h"
#include "tools/oci/systemd_scope.h"

namespace corral::oci_cli {

using json = nlohmann::json;
namespace oci = runtime::oci;


// prefix-name.scope, as runc names the scope of cgroupsPath "slice:prefix:name".
std::string ScopeName(const std::string& prefix, const std::string& name) {
  if (absl::EndsWith(name, ".slice") || absl::EndsWith(name, ".scope")) return name;
  return absl::StrCat(prefix, prefix.empty() ? "" : "-", name, ".scope");
}

// The cgroup directories of a container: cgroup2's and, on a hybrid host, those of the v1
// controllers that carry its limits.
std::string CgroupsPath(const oci::Config& config, const std::string& id) {
  if (!config.cgroups_path.empty() || !g.systemd_cgroup) return config.cgroups_path;
  // runc's systemd driver without a cgroupsPath: ScopePrefix "runc", Name the id, Parent its
  // default slice.
  return absl::StrCat("system.slice:runc:", id);
}

absl::StatusOr<std::vector<std::string>> CgroupDirs(const oci::Config& config, const std::string& id) {
  std::string path = CgroupsPath(config, id);
  if (path.empty()) {
    // No cgroupsPath (cgroupfs driver): a cgroup all the same, where runc makes it, so that
    // linux.resources (devices, memory, pids) hold and pause, update, ps and events work.
    ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
    ASSIGN_OR_RETURN(std::string own, ReadFile("/proc/self/cgroup"));
    return DefaultCgroupDirs(runtime::ParseCgroupMounts(mountinfo), runtime::ParseProcCgroup(own), id);
  }
  if (g.systemd_cgroup || (path[0] != '/' && absl::StrContains(path, ":"))) {
    // slice:prefix:name, as systemd names a scope; laid out under cgroupfs the same way.
    std::vector<std::string> parts = absl::StrSplit(path, ':');
    if (parts.size() != 3) return absl::InvalidArgumentError(absl::StrCat("linux.cgroupsPath: expected slice:prefix:name, got \"", path, "\""));
    std::string slice = parts[0].empty() ? "system.slice" : parts[0];
    path = SystemdCgroupPath(slice, ScopeName(parts[1], parts[2].empty() ? id : parts[2]));
  }
  if (path[0] != '/') path = "/" + path;
  ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  runtime::CgroupMounts mounts = runtime::ParseCgroupMounts(mountinfo);
  std::vector<std::string> dirs;
  if (mounts.unified) dirs.push_back(mounts.unified->mount_point + path);
  for (const char* controller : kV1Controllers) {
    auto it = mounts.v1.find(controller);
    if (it != mounts.v1.end()) {
      std::string dir = it->second.mount_point + path;
      if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
    }
  }
  if (dirs.empty()) return absl::FailedPreconditionError("linux.cgroupsPath: no cgroup file system is mounted");
  return dirs;
}


// Writes `value` to the first of `candidates` that exists (cgroup2 name first, v1 after).
absl::Status WriteLimit(const std::vector<std::string>& dirs, std::vector<std::string> files, const std::string& value,
                        absl::string_view what) {
  for (const std::string& file : files) {
    for (const std::string& dir : dirs) {
      std::string path = dir + "/" + file;
      if (Exists(path)) return Annotate(WriteExistingFile(path, value), what);
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(what, ": no cgroup controller for it (", absl::StrJoin(files, ", "), ")"));
}

absl::Status ApplyResources(const std::vector<std::string>& dirs, const oci::Resources& r) {
  if (r.memory_limit) {
    std::string v = *r.memory_limit < 0 ? "max" : absl::StrCat(*r.memory_limit);
    absl::Status s = WriteLimit(dirs, {"memory.max"}, v, "linux.resources.memory.limit");
    if (!s.ok()) RETURN_IF_ERROR(WriteLimit(dirs, {"memory.limit_in_bytes"}, *r.memory_limit < 0 ? "-1" : v, "linux.resources.memory.limit"));
  }
  if (r.pids_limit) {
    std::string v = *r.pids_limit <= 0 ? "max" : absl::StrCat(*r.pids_limit);
    RETURN_IF_ERROR(WriteLimit(dirs, {"pids.max"}, v, "linux.resources.pids.limit"));
  }
  if (r.cpu_shares) {
    uint64_t weight = 1 + ((*r.cpu_shares - 2) * 9999) / 262142;
    absl::Status s = WriteLimit(dirs, {"cpu.weight"}, absl::StrCat(weight), "linux.resources.cpu.shares");
    if (!s.ok()) RETURN_IF_ERROR(WriteLimit(dirs, {"cpu.shares"}, absl::StrCat(*r.cpu_shares), "linux.resources.cpu.shares"));
  }
  if (r.cpu_quota || r.cpu_period) {
    uint64_t period = r.cpu_period.value_or(100000);
    std::string quota = !r.cpu_quota || *r.cpu_quota <= 0 ? "max" : absl::StrCat(*r.cpu_quota);
    absl::Status s = WriteLimit(dirs, {"cpu.max"}, absl::StrCat(quota, " ", period), "linux.resources.cpu.quota");
    if (!s.ok()) {
      RETURN_IF_ERROR(WriteLimit(dirs, {"cpu.cfs_period_us"}, absl::StrCat(period), "linux.resources.cpu.period"));
      RETURN_IF_ERROR(WriteLimit(dirs, {"cpu.cfs_quota_us"}, quota == "max" ? "-1" : quota, "linux.resources.cpu.quota"));
    }
  }
  for (const auto& [file, value] : r.unified) {
    RETURN_IF_ERROR(Annotate(WriteExistingFile(dirs[0] + "/" + file, value), absl::StrCat("linux.resources.unified.", file)));
  }
  return absl::OkStatus();
}

absl::Status MakeCgroups(const std::vector<std::string>& dirs, std::vector<std::string>* made) {
  for (size_t i = 0; i < dirs.size(); ++i) {
    const std::string& dir = dirs[i];
    if (i == 0 && Exists(dir.substr(0, dir.find('/', 1)))) {
      // cgroup2: each level must hand its controllers down (pure cgroup2 hosts).
      std::vector<std::string> parts = absl::StrSplit(dir, '/', absl::SkipEmpty());
      std::string at;
      for (size_t p = 0; p + 1 < parts.size(); ++p) {
        at += "/" + parts[p];
        if (!Exists(at + "/cgroup.subtree_control")) continue;
        RETURN_IF_ERROR(MakeDirectories(at));
        for (const char* c : {"+memory", "+pids", "+cpu"}) WriteExistingFile(at + "/cgroup.subtree_control", c).IgnoreError();
      }
    }
    // The container's own directory is recorded as made only when this call made it: a failed
    // create takes back what it made, and nothing that was there before.
    RETURN_IF_ERROR(MakeDirectories(dir.substr(0, dir.rfind('/'))));
    if (::mkdir(dir.c_str(), 0755) == 0) {
      made->push_back(dir);
    } else if (errno != EEXIST) {
      return ErrnoError(absl::StrCat("mkdir ", dir));
    }
  }
  return absl::OkStatus();
}

void RemoveCgroups(const std::vector<std::string>& dirs) {
  // A container killed a moment ago may not have left its cgroup yet (EBUSY): wait up to 1 s.
  for (const std::string& dir : dirs) {
    for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) ::usleep(10000);
  }
}

std::vector<pid_t> CgroupPids(const std::vector<std::string>& dirs) {
  std::vector<pid_t> pids;
  if (dirs.empty()) return pids;
  absl::StatusOr<std::string> text = ReadFile(dirs[0] + "/cgroup.procs");
  if (!text.ok()) return pids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    pid_t pid;
    if (absl::SimpleAtoi(line, &pid)) pids.push_back(pid);
  }
  return pids;
}

std::vector<runtime::DeviceAccessRule> DeviceRules(const oci::Config& config, const std::vector<oci::DeviceRule>& rules) {
  std::vector<runtime::DeviceAccessRule> out;
  for (const oci::DeviceRule& r : rules) out.push_back({r.allow, r.type, r.major, r.minor, r.access.empty() ? "rwm" : r.access});
  // After the config's rules (so its "deny all" does not take them away), as runc appends its
  // AllowedDevices: the nodes every container's /dev has, the console and ptys, then the
  // config's own linux.devices.
  for (const runtime::DeviceRule& r : runtime::DeviceAllowList({})) out.push_back({true, r.type, r.major, r.minor, r.access});
  for (const oci::Device& d : config.devices) {
    if (d.type == 'p') continue;
    out.push_back({true, d.type == 'b' ? 'b' : 'c', d.major, d.minor, "rwm"});
  }
  return out;
}

namespace {

// Whether we are uid 0 of the initial user namespace (its uid_map is the identity of all ids).
bool RootOfTheInitialUserNamespace() {
  if (::geteuid() != 0) return false;
  absl::StatusOr<std::string> map = ReadFile("/proc/self/uid_map");
  if (!map.ok()) return false;
  std::vector<std::string> f = absl::StrSplit(*map, ' ', absl::SkipEmpty());
  return f.size() >= 3 && f[0] == "0" && f[1] == "0" && absl::StripTrailingAsciiWhitespace(f[2]) == "4294967295";
}

}  // namespace

absl::Status ApplyDeviceRules(const std::vector<std::string>& dirs, const std::vector<runtime::DeviceAccessRule>& rules) {
  // cgroup2 (hybrid hosts too: the BPF hook runs for every process by its cgroup2 cgroup).
  for (const std::string& dir : dirs) {
    if (!Exists(dir + "/cgroup.controllers")) continue;
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return ErrnoError(absl::StrCat("linux.resources.devices: open ", dir));
    absl::Status attached = runtime::AttachDeviceFilter(fd.get(), rules);
    // Rootless (not root of the host's user namespace): no BPF program can be loaded, and none
    // is needed: such a caller can open no device it could not open anyway (crun does the same).
    if (!attached.ok() && absl::IsPermissionDenied(attached) && !RootOfTheInitialUserNamespace()) return absl::OkStatus();
    return Annotate(attached, "linux.resources.devices");
  }
  for (const std::string& dir : dirs) {
    if (Exists(dir + "/devices.allow")) return Annotate(runtime::ApplyV1DeviceRules(dir, rules), "linux.resources.devices");
  }
  return absl::FailedPreconditionError("linux.resources.devices: no cgroup2 directory or v1 devices controller for the container");
}

}  // namespace corral::oci_cli
