// corral-oci and systemd-machined: a container registered as a machine (RegisterMachine on
// org.freedesktop.machine1, with the unit its init is in), so `machinectl list` shows podman's,
// docker's and containerd's containers too; unregistered when it is deleted.
#ifndef CORRAL_TOOLS_OCI_MACHINED_H_
#define CORRAL_TOOLS_OCI_MACHINED_H_

#include <sys/types.h>

#include <map>
#include <string>

#include "absl/status/status.h"

namespace corral::oci_cli {

// The annotation that asks for registration ("true"), as --register does for every container.
inline constexpr char kMachinedAnnotation[] = "corral.machined";

bool WantsMachined(const std::map<std::string, std::string>& annotations);

// A machine name machined accepts for container `id`: characters other than letters, digits,
// '-' and '.' become '-', at most 64, not starting with '-' or '.'.
std::string MachineName(const std::string& id);

// RegisterMachine(name, leader, root_directory), class "container", service "corral-oci". The
// leader must be in a systemd unit (a --systemd-cgroup scope, or the caller's own unit when there
// is no cgroupsPath); machined's refusal comes back as the error.
absl::Status RegisterMachine(const std::string& name, pid_t leader, const std::string& root_directory);

// UnregisterMachine(name); a machine machined already forgot (its unit ended) is not an error.
absl::Status UnregisterMachine(const std::string& name);

}  // namespace corral::oci_cli

#endif  // CORRAL_TOOLS_OCI_MACHINED_H_
