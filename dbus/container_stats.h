// What GetStats and Top answer for one running container, gathered without the bus: its
// cgroup's figures (runtime/cgroup, the scope's payload leaf, v1 controllers on a hybrid host),
// its veth's counters (netcfg), and its processes as /proc shows them to root.
#ifndef CORRAL_DBUS_CONTAINER_STATS_H_
#define CORRAL_DBUS_CONTAINER_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/cgroup/process_info.h"

namespace corral::dbus {

// The leaf below the scope that holds the container's processes (dbus/supervisor/supervisor.h).
inline constexpr char kPayloadLeaf[] = "payload";

struct StatsRequest {
  std::string name;       // the container
  std::string unit;       // its scope, "corral-NAME.scope"
  pid_t leader = 0;       // a process of its payload (its init)
  bool bridge = false;    // on the bridge: read its veth's counters
  std::string network_config = "/etc/corral/network.conf";
};

// GetStats's a{sv}, in order: each key with its value (all `t` but `cgroup_layout`, `s`).
struct StatsEntry {
  std::string key;
  uint64_t number = 0;
  std::string text;
  bool is_text = false;
};
absl::StatusOr<std::vector<StatsEntry>> ReadContainerStats(const StatsRequest& request);

// The processes of the container's payload subtree (its cgroup2 cgroup.procs, recursively),
// by host pid; processes that exit while being read are left out.
absl::StatusOr<std::vector<runtime::ProcessInfo>> ReadContainerProcesses(const StatsRequest& request);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_CONTAINER_STATS_H_
