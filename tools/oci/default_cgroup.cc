// corral-oci's default cgroup (no linux.cgroupsPath): runc's cgroupfs placement.
#include "tools/oci/default_cgroup.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace corral::oci_cli {

namespace {

// `path` (from /proc/self/cgroup) below the mount whose root is `root`: "/" for the mount itself.
absl::StatusOr<std::string> BelowMountRoot(const std::string& path, const std::string& root, absl::string_view what) {
  if (path.empty() || path[0] != '/') {
    return absl::FailedPreconditionError(absl::StrCat("default cgroup: /proc/self/cgroup gives ", what, " \"", path, "\""));
  }
  if (root == "/" || root.empty()) return path;
  if (path == root) return std::string("/");
  if (absl::StartsWith(path, root) && path[root.size()] == '/') return path.substr(root.size());
  return absl::FailedPreconditionError(absl::StrCat("default cgroup: our ", what, " cgroup \"", path,
                                                    "\" is outside its mount (root \"", root, "\")"));
}

std::string Child(const std::string& mount_point, const std::string& dir, const std::string& id) {
  return absl::StrCat(mount_point, dir == "/" ? "" : dir, "/", id);
}

std::string Parent(const std::string& dir) {
  size_t slash = dir.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> DefaultCgroupDirs(const runtime::CgroupMounts& mounts,
                                                           const runtime::ProcCgroups& own, const std::string& id) {
  std::vector<std::string> dirs;
  bool hybrid = false;
  for (const char* controller : kV1Controllers) hybrid |= mounts.v1.count(controller) > 0;
  if (mounts.unified) {
    if (!own.unified) return absl::FailedPreconditionError("default cgroup: /proc/self/cgroup has no cgroup2 (\"0::\") line");
    absl::StatusOr<std::string> mine = BelowMountRoot(*own.unified, mounts.unified->root, "cgroup2");
    if (!mine.ok()) return mine.status();
    dirs.push_back(Child(mounts.unified->mount_point, hybrid ? *mine : Parent(*mine), id));
  }
  for (const char* controller : kV1Controllers) {
    auto mount = mounts.v1.find(controller);
    if (mount == mounts.v1.end()) continue;
    auto mine = own.v1.find(controller);
    if (mine == own.v1.end()) {
      return absl::FailedPreconditionError(absl::StrCat("default cgroup: /proc/self/cgroup has no line for the mounted v1 ", controller, " hierarchy"));
    }
    absl::StatusOr<std::string> below = BelowMountRoot(mine->second, mount->second.root, controller);
    if (!below.ok()) return below.status();
    std::string dir = Child(mount->second.mount_point, *below, id);
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  if (dirs.empty()) return absl::FailedPreconditionError("default cgroup: no cgroup file system is mounted");
  return dirs;
}

}  // namespace corral::oci_cli
