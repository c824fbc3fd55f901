#include "dbus/container_stats.h"

#include <time.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "netcfg/config.h"
#include "netcfg/ipam.h"
#include "netcfg/rtnetlink.h"
#include "runtime/cgroup/cgroup.h"

namespace corral::dbus {
namespace {

absl::StatusOr<runtime::Cgroup> PayloadCgroup(const StatsRequest& request) {
  absl::StatusOr<runtime::Cgroup> found = runtime::Cgroup::Of(request.leader);
  if (!found.ok()) return Annotate(found.status(), absl::StrCat("find the cgroup of ", request.name, "'s init"));
  runtime::Cgroup cgroup = *std::move(found);
  RETURN_IF_ERROR(cgroup.ScopeTo(request.unit, kPayloadLeaf));
  return cgroup;
}

// The host end of the container's veth: the one its lease records (a salted name after a
// collision), else the name netcfg derives.
std::string HostInterface(const netcfg::NetworkConfig& config, const std::string& name) {
  netcfg::LeaseStore leases(config.state_dir, config.gateway);
  absl::StatusOr<std::vector<netcfg::Lease>> list = leases.List();
  if (list.ok()) {
    for (const netcfg::Lease& lease : *list) {
      if (lease.container == name && !lease.host_interface.empty()) return lease.host_interface;
    }
  }
  return netcfg::HostInterfaceName(name);
}

}  // namespace

absl::StatusOr<std::vector<StatsEntry>> ReadContainerStats(const StatsRequest& request) {
  ASSIGN_OR_RETURN(runtime::Cgroup cgroup, PayloadCgroup(request));
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  runtime::CgroupStats stats = cgroup.Stats();
  // Counted from the container's side: what its host end received, the container sent.
  netcfg::LinkCounters net;
  if (request.bridge) {
    absl::StatusOr<netcfg::NetworkConfig> config = netcfg::LoadNetworkConfig(request.network_config);
    if (!config.ok()) return Annotate(config.status(), "read the network configuration");
    absl::StatusOr<netcfg::Rtnl> rtnl = netcfg::Rtnl::Open();
    if (!rtnl.ok()) return rtnl.status();
    absl::StatusOr<netcfg::LinkCounters> counters = rtnl->Counters(HostInterface(*config, request.name));
    // A veth already gone (the container is stopping) counts nothing.
    if (!counters.ok() && !absl::IsNotFound(counters.status())) return counters.status();
    if (counters.ok()) net = *counters;
  }
  auto t = [](const char* key, uint64_t value) { return StatsEntry{key, value, "", false}; };
  return std::vector<StatsEntry>{
      t("memory_current", stats.memory_current),
      t("memory_peak", stats.memory_peak),
      t("memory_limit", stats.memory_limit),
      t("cpu_usage_usec", stats.cpu_usage_usec),
      t("pids_current", stats.pids_current),
      t("pids_limit", stats.pids_limit),
      t("io_read_bytes", stats.io_read_bytes),
      t("io_write_bytes", stats.io_write_bytes),
      t("net_rx_bytes", net.tx_bytes),
      t("net_tx_bytes", net.rx_bytes),
      t("net_rx_packets", net.tx_packets),
      t("net_tx_packets", net.rx_packets),
      t("timestamp_usec", static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000),
      StatsEntry{"cgroup_layout", 0, cgroup.Layout(), true},
  };
}

absl::StatusOr<std::vector<runtime::ProcessInfo>> ReadContainerProcesses(const StatsRequest& request) {
  ASSIGN_OR_RETURN(runtime::Cgroup cgroup, PayloadCgroup(request));
  ASSIGN_OR_RETURN(std::vector<pid_t> pids, cgroup.Processes());
  std::vector<runtime::ProcessInfo> processes;
  for (pid_t pid : pids) {
    absl::StatusOr<runtime::ProcessInfo> info = runtime::ReadProcessInfo(pid);
    if (info.ok()) processes.push_back(*std::move(info));
  }
  return processes;
}

}  // namespace corral::dbus
