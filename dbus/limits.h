// SetLimits(s name, a{sv} limits): a container's resource limits changed, for a running
// container in place (systemd's SetUnitProperties on its scope, runtime) and in its config for
// every next start. The pure parts: what an a{sv} asks for, the config it gives, systemd's
// properties for it.
//
// Keys (all t, all optional, at least one): Memory (bytes, at least 4 MiB; 0: no limit),
// Tasks (0: no limit), CPUWeight (1 to 10000; 0: systemd's default), CPUQuota (percent of one
// CPU, 1 to 100000, 200 = two CPUs' time; 0: no quota).
#ifndef CORRAL_DBUS_LIMITS_H_
#define CORRAL_DBUS_LIMITS_H_

#include <systemd/sd-bus.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "dbus/container_config.h"

namespace corral::dbus {

struct LimitsChange {
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> tasks;
  std::optional<uint64_t> cpu_weight;
  std::optional<uint64_t> cpu_quota_percent;
  bool empty() const { return !memory_bytes && !tasks && !cpu_weight && !cpu_quota_percent; }
};

// Reads the a{sv} at the message's position. A bus error is a negative errno; an unknown key or
// a value of another type is InvalidArgument in *problem (and 0 returned).
int ReadLimits(sd_bus_message* m, LimitsChange* change, std::string* problem);

// `config` with the change applied and validated (ValidateConfig's ranges); InvalidArgument for
// an empty change or a value out of range.
absl::StatusOr<ContainerConfig> ApplyLimits(const ContainerConfig& config, const LimitsChange& change);

// systemd's unit properties for the change: MemoryMax, TasksMax, CPUWeight, CPUQuotaPerSecUSec,
// with "none" (0) as systemd's infinity / unset (UINT64_MAX).
std::vector<std::pair<std::string, uint64_t>> SystemdLimitProperties(const LimitsChange& change);

// The Container properties the change touches (Memory, Tasks, CPUWeight, CPUQuota).
std::vector<const char*> ChangedLimitProperties(const LimitsChange& change);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIMITS_H_
