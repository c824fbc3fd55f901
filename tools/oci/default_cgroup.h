// corral-oci's default cgroup: where a container whose config.json names no linux.cgroupsPath
// lives, as runc places it, so its linux.resources are enforced all the same (pure, tested).
#ifndef CORRAL_TOOLS_OCI_DEFAULT_CGROUP_H_
#define CORRAL_TOOLS_OCI_DEFAULT_CGROUP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/cgroup/cgroup.h"

namespace corral::oci_cli {

// The v1 controllers whose hierarchies hold a container's cgroup on a hybrid host, in the
// order its directories are listed (after cgroup2's). name=systemd: that is where systemd on a
// hybrid host (and so `systemctl status`) sees which unit a process belongs to.
inline constexpr const char* kV1Controllers[] = {"memory", "pids", "cpu", "freezer", "blkio", "devices", "name=systemd"};

// The cgroup directories of container `id` without a cgroupsPath (the cgroupfs driver), from
// this process's cgroup mounts and its own /proc/self/cgroup `own`, as runc's cgroupfs driver:
//  - pure cgroup2: a child named `id` of the PARENT of our own cgroup (runc's fs2
//    defaultDirPath): our own cgroup holds us, and the kernel's no-internal-processes rule
//    keeps a cgroup with processes from handing memory/pids/cpu down to a child;
//  - each v1 hierarchy: a child named `id` of our own cgroup there (runc's subsysPath);
//  - a hybrid host's cgroup2 (no controllers, only the device filter's BPF hook): a child of our
//    own cgroup there too (runc puts it at that hierarchy's root; we stay below ourselves).
// Paths are taken relative to each mount's root (a bind-mounted subtree or a cgroup namespace).
absl::StatusOr<std::vector<std::string>> DefaultCgroupDirs(const runtime::CgroupMounts& mounts,
                                                           const runtime::ProcCgroups& own, const std::string& id);

}  // namespace corral::oci_cli

#endif  // CORRAL_TOOLS_OCI_DEFAULT_CGROUP_H_
