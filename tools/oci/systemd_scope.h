// --systemd-cgroup: the container's init placed in a transient scope of systemd's
// (StartTransientUnit over the system bus, Delegate=yes), waited for until its job is done.
#ifndef CORRAL_TOOLS_OCI_SYSTEMD_SCOPE_H_
#define CORRAL_TOOLS_OCI_SYSTEMD_SCOPE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace corral::oci_cli {

// The cgroup path systemd gives unit `unit` in slice `slice` ("machine-x.slice" nests under
// "machine.slice"): "/machine.slice/machine-x.slice/UNIT".
std::string SystemdCgroupPath(const std::string& slice, const std::string& unit);

// Starts scope `unit` in `slice` holding `pid`, Delegate=yes; returns once systemd's job has
// finished (error unless its result is "done"), at most 10 s. `memory_max`, `tasks_max`: the
// scope's MemoryMax= and TasksMax= (0: not set), so systemd keeps the limits it would otherwise
// reset to its own on a reload.
absl::Status StartSystemdScope(const std::string& unit, const std::string& slice, pid_t pid,
                               const std::string& description, uint64_t memory_max = 0, uint64_t tasks_max = 0);

}  // namespace corral::oci_cli

#endif  // CORRAL_TOOLS_OCI_SYSTEMD_SCOPE_H_
