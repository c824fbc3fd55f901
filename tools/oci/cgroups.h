// corral-oci's cgroups: linux.cgroupsPath as directories (cgroup2's first, then the v1
// controllers of a hybrid host), made, limited from linux.resources, listed and removed.
#ifndef CORRAL_TOOLS_OCI_CGROUPS_H_
#define CORRAL_TOOLS_OCI_CGROUPS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/oci/config.h"

namespace corral::oci_cli {

// prefix-name.scope, as runc names the scope of cgroupsPath "slice:prefix:name".
std::string ScopeName(const std::string& prefix, const std::string& name);

// The cgroup directories of a container: cgroup2's and, on a hybrid host, those of the v1
// controllers that carry its limits. Empty without a cgroupsPath.
absl::StatusOr<std::vector<std::string>> CgroupDirs(const runtime::oci::Config& config, const std::string& id);

absl::Status ApplyResources(const std::vector<std::string>& dirs, const runtime::oci::Resources& r);
absl::Status MakeCgroups(const std::vector<std::string>& dirs);
void RemoveCgroups(const std::vector<std::string>& dirs);
std::vector<pid_t> CgroupPids(const std::vector<std::string>& dirs);

}  // namespace corral::oci_cli

#endif  // CORRAL_TOOLS_OCI_CGROUPS_H_
