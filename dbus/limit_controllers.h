// Which of a container's limits this host's cgroups cannot enforce: corrald refuses such a
// limit by name (SetLimits) or warns and says so in the UnenforcedLimits property
// (CreateContainer, a stored config).
#ifndef CORRAL_DBUS_LIMIT_CONTROLLERS_H_
#define CORRAL_DBUS_LIMIT_CONTROLLERS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dbus/container_config.h"
#include "dbus/limits.h"
#include "runtime/cgroup/controllers.h"

namespace corral::dbus {

// What the host offers (runtime/cgroup/controllers.h, shared with corral-run).
using runtime::LimitControllers;
using runtime::ParseLimitControllers;
using runtime::ReadLimitControllers;

// Each non-zero limit of `config` the host cannot enforce, as "Memory: no memory controller"
// (0 is "no limit": nothing to enforce).
std::vector<std::string> UnenforcedLimits(const ContainerConfig& config, const LimitControllers& host);
// FailedPrecondition naming the first limit of `change` (non-zero) the host cannot enforce and
// the missing controller; OK otherwise.
absl::Status CheckLimitsEnforceable(const LimitsChange& change, const LimitControllers& host);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIMIT_CONTROLLERS_H_
