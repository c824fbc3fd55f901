// `corralctl set NAME [--memory M] [--pids N] [--cpu-weight W] [--cpu-quota P%]`: corrald's
// SetLimits (dbus/limits.h). "none" (or 0) removes a limit. The parsing is pure and tested.
#ifndef CORRAL_TOOLS_CTL_SET_H_
#define CORRAL_TOOLS_CTL_SET_H_

#include <systemd/sd-bus.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corral::tools {

struct SetArgs {
  std::string name;
  std::optional<uint64_t> memory_bytes, tasks, cpu_weight, cpu_quota_percent;
};
absl::StatusOr<SetArgs> ParseSetArgs(const std::vector<std::string>& args);

int SetCommand(sd_bus* bus, const std::vector<std::string>& args);

// After `create`: a warning on stderr for each limit of container `name` this host cannot
// enforce (its UnenforcedLimits property), as docker's "Limitation discarded".
void WarnUnenforcedLimits(sd_bus* bus, const std::string& name);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_SET_H_
