// corral-oci's cgroups: linux.cgroupsPath (or runc's default without one) as directories
// (cgroup2's first, then the v1 controllers of a hybrid host), made, limited, listed, removed.
#ifndef CORRAL_TOOLS_OCI_CGROUPS_H_
#define CORRAL_TOOLS_OCI_CGROUPS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/cgroup/device_filter.h"
#include "runtime/oci/config.h"

namespace corral::oci_cli {

// prefix-name.scope, as runc names the scope of cgroupsPath "slice:prefix:name".
std::string ScopeName(const std::string& prefix, const std::string& name);

// linux.cgroupsPath, or with --systemd-cgroup and none runc's default "system.slice:runc:ID"
// (the scope runc-ID.scope). Empty for the cgroupfs driver without one.
std::string CgroupsPath(const runtime::oci::Config& config, const std::string& id);

// The cgroup directories of a container: cgroup2's and, on a hybrid host, those of the v1
// controllers that carry its limits. Without a cgroupsPath, the default cgroup runc would give
// it (tools/oci/default_cgroup.h): never none, so its linux.resources are always enforced.
absl::StatusOr<std::vector<std::string>> CgroupDirs(const runtime::oci::Config& config, const std::string& id);

absl::Status ApplyResources(const std::vector<std::string>& dirs, const runtime::oci::Resources& r);
// Makes `dirs` (and their parents); `made` gets those of `dirs` this call created.
absl::Status MakeCgroups(const std::vector<std::string>& dirs, std::vector<std::string>* made);
void RemoveCgroups(const std::vector<std::string>& dirs);
std::vector<pid_t> CgroupPids(const std::vector<std::string>& dirs);

// The device filter of a container: `rules` (its linux.resources.devices, or an update's),
// then the nodes every container has and its linux.devices, allowed.
std::vector<runtime::DeviceAccessRule> DeviceRules(const runtime::oci::Config& config,
                                                   const std::vector<runtime::oci::DeviceRule>& rules);
// Enforces `rules` on the container's cgroup: a BPF device program on its cgroup2 directory,
// or the v1 devices controller where there is no cgroup2.
absl::Status ApplyDeviceRules(const std::vector<std::string>& dirs, const std::vector<runtime::DeviceAccessRule>& rules);

}  // namespace corral::oci_cli

#endif  // CORRAL_TOOLS_OCI_CGROUPS_H_
