// The bridge network as a start step (runtime/start_step.h): the one recipe corral-run and the
// supervisor share. Before the clone it claims the container's network identity, makes sure of
// the host side (bridge, NAT) and lists resolv.conf and hosts as bind mounts; in the parent
// before the go it wires the container's side (lease, veth, address, route, port forwards), so
// the command finds eth0 configured; at cleanup it detaches, keeping the lease or not.
#ifndef CORRAL_NETCFG_ATTACHMENT_H_
#define CORRAL_NETCFG_ATTACHMENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "netcfg/network.h"
#include "netcfg/ports.h"
#include "runtime/start_step.h"

namespace corral::netcfg {

class BridgeAttachment : public runtime::StartStep {
 public:
  struct Options {
    std::string config_path;  // the network configuration (netcfg/config.h)
    std::string container;    // the lease's name: the container's, or a run's (RunLeaseName)
    std::vector<PortForward> ports;
    // At Undo: a stopped container that still exists keeps its address for its next start
    // (the supervisor's); a foreground run gives it back (corral-run's).
    bool keep_address = false;
  };
  explicit BridgeAttachment(Options options) : options_(std::move(options)) {}

  absl::Status Prepare(runtime::ContainerSpec& spec) override;
  absl::Status InParent(const runtime::StartedChild& child) override;
  absl::Status Undo() override;
  runtime::Phase InParentPhase() const override { return runtime::Phase::kNetworkAttach; }

  // After Prepare: the host's network (corral-run reclaims dead runs' leases through it).
  BridgeNetwork& network() { return *network_; }
  // After InParent: what was set up.
  const std::optional<ContainerNetwork>& attached() const { return attached_; }

 private:
  Options options_;
  std::string hostname_;
  UniqueFd claim_;
  std::unique_ptr<BridgeNetwork> network_;
  std::optional<ContainerNetwork> attached_;
};

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_ATTACHMENT_H_
