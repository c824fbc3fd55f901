// The bridge network, end to end: the host side (bridge, its address, IP forwarding, the NAT
// table) and each container's side (lease, veth pair with the peer created inside the
// container's network namespace, addresses, route, port forwards, resolv.conf and hosts).
// Everything happens in the network namespace of the thread that opened the BridgeNetwork;
// that is the host's in production and a namespace of the test's own in tests.
#ifndef CORRAL_NETCFG_NETWORK_H_
#define CORRAL_NETCFG_NETWORK_H_

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "netcfg/config.h"
#include "netcfg/ipam.h"
#include "netcfg/nat.h"
#include "netcfg/nftables.h"
#include "netcfg/ports.h"
#include "netcfg/rtnetlink.h"

namespace corral::netcfg {

// What Attach set up for one container.
struct ContainerNetwork {
  std::string container;
  Ipv4Interface address;         // eth0's address and prefix, e.g. 10.77.0.2/16
  uint32_t gateway = 0;          // the bridge's address, the default route
  std::string host_interface;    // host end of the veth, on the bridge
  std::vector<PortForward> ports;
  std::string resolv_conf_path;  // to bind-mount at /etc/resolv.conf
  std::string hosts_path;        // to bind-mount at /etc/hosts
};

class BridgeNetwork {
 public:
  static absl::StatusOr<std::unique_ptr<BridgeNetwork>> Open(NetworkConfig config);

  // Bridge up with the gateway address, net.ipv4.ip_forward on, `table ip corral` in place.
  // Idempotent, and cheap when everything is already there (no libnftables load).
  absl::Status EnsureHost();

  // Connects the container whose network namespace is `netns_fd`: its lease (the address it
  // had before, or a new one), a veth pair ve-NAME <-> eth0 with eth0 created directly in the
  // namespace, lo and eth0 up, the address, the default route, the port forwards, and its
  // resolv.conf and hosts files. A host port in use (forwarded to another container, or bound
  // by a host process) is refused up front. On failure nothing of it is left behind.
  // Leftovers of an earlier run of the same container (its host link, its forwards) are
  // cleaned first.
  absl::StatusOr<ContainerNetwork> Attach(const std::string& container, const std::string& hostname, int netns_fd,
                                          const std::vector<PortForward>& ports);

  struct DetachOptions {
    bool keep_address = false;  // a stopped container that still exists keeps its lease
    // Delete the host end of the veth now. Not needed when the container's namespace is
    // gone or about to go (its last process exited): the kernel then removes the pair itself,
    // in the background, which keeps the stop path fast.
    bool delete_link = false;
    // Look for forwards to the container's address even when its lease records none (rm:
    // an unclean end may have lost track of them). Costs loading libnftables.
    bool find_stray_forwards = false;
  };
  // Removes the container's forwards, files and (unless keep_address) its lease. Every
  // forward pointing at its address goes, in one nft transaction, under the leases lock and
  // before the lease changes: a lease is never freed while a forward still sends traffic to
  // its address. Tolerates pieces already gone, so it also cleans up after a crash.
  absl::Status Detach(const std::string& container, const DetachOptions& options);

  // What a reconciliation pass decides for one lease.
  enum class LeaseFate {
    kKeep,         // its container runs: lease, forwards and veth stay
    kKeepAddress,  // its container exists but does not run: the address stays, forwards go
    kFree,         // nobody owns it: everything goes
  };
  // Decides a lease's fate; `claimed` says whether a live process holds the container's
  // network claim (ClaimContainerNetwork), read after the leases under the leases lock.
  using LeaseJudge = std::function<LeaseFate(const Lease& lease, bool claimed)>;
  struct ReclaimOptions {
    // List the forward maps even when no lease being freed had forwards, to find elements
    // whose lease is gone altogether. Costs loading libnftables.
    bool scan_forwards = true;
  };
  struct Reclaimed {
    std::vector<Lease> freed;           // leases dropped
    std::vector<Lease> ports_cleared;   // leases that kept their address and lost their forwards
    std::vector<MapForward> forwards;   // map elements deleted
    std::vector<std::string> links;     // host veths deleted
    std::vector<std::string> run_dirs;  // volatile per-container directories deleted
    bool empty() const;
    // One line per item freed ("freed lease run-1-2-ab 10.77.0.2", "deleted forward ...").
    std::vector<std::string> Describe() const;
  };
  // One pass under the leases lock: each lease judged; freed leases dropped, leases of
  // stopped containers kept without forwards; then every map element whose target is not a
  // kept lease's own forward deleted (one transaction), every ve-* port of the bridge that is
  // not a kept lease's host interface deleted, and every run directory of no kept lease.
  // Reports what it freed. On error (a broken leases file, nft failing) nothing is written.
  absl::StatusOr<Reclaimed> Reclaim(const LeaseJudge& judge, const ReclaimOptions& options);

  // Warnings about the host's firewall that would break containers' traffic, for
  // `corralctl checkconfig` and start errors: forward chains of other tables that drop.
  absl::StatusOr<std::vector<std::string>> CheckHostFirewall();

  // Removes the bridge and `table ip corral` (tests, uninstall). Leases are kept.
  absl::Status RemoveHost();

  // Where Attach writes the container's resolv.conf and hosts: known before Attach, so a
  // runtime can list them as bind mounts before the container exists.
  std::string ResolvConfPath(const std::string& container) const;
  std::string HostsPath(const std::string& container) const;

  const NetworkConfig& config() const { return config_; }
  LeaseStore& leases() { return leases_; }

 private:
  BridgeNetwork(NetworkConfig config, Rtnl rtnl);
  absl::StatusOr<Nftables*> nft();
  absl::Status WriteDnsFiles(ContainerNetwork& network, const std::string& hostname);
  absl::Status AttachLinks(const ContainerNetwork& network, int netns_fd);
  // Under the leases lock: the forwards to the container's address (when it has any, or
  // always with `find_stray_forwards`), then its lease is dropped or loses its forwards.
  absl::StatusOr<std::optional<Lease>> ReleaseLease(const std::string& container, bool keep_address,
                                                    bool find_stray_forwards);
  // Deletes every element of the forward maps that points at `address` (one transaction).
  absl::StatusOr<std::vector<MapForward>> RemoveForwardsTo(uint32_t address);

  NetworkConfig config_;
  Rtnl rtnl_;  // in the host's namespace
  LeaseStore leases_;
  std::unique_ptr<Nftables> nft_;  // loaded on first need
  int bridge_index_ = 0;
};

// Claims the network identity of `container` for as long as the returned fd is open, so two
// runs of one name cannot take each other's address and link. An abstract unix socket named
// after the container: the kernel frees it when its holder dies, however it dies, and it
// leaves nothing on disk. Abstract names are per network namespace, which is exactly the
// scope of a bridge. AlreadyExists when another process holds it.
absl::StatusOr<UniqueFd> ClaimContainerNetwork(const std::string& container);

// The pure steps of BridgeNetwork::Reclaim, for tests. JudgeLeases sorts the leases by their
// fate (leases of kKeepAddress lose their ports in `kept`); the others pick, from what the
// kernel has, what belongs to no running container.
struct JudgedLeases {
  std::vector<Lease> kept;       // what the leases file keeps
  std::set<std::string> running; // names of kKeep leases
  std::vector<Lease> freed;
  std::vector<Lease> ports_cleared;
};
JudgedLeases JudgeLeases(std::vector<Lease> leases, const std::set<std::string>& claims,
                         const BridgeNetwork::LeaseJudge& judge);
std::vector<MapForward> StaleForwards(const JudgedLeases& judged, const std::vector<MapForward>& elements);
std::vector<std::string> StaleLinks(const JudgedLeases& judged, const std::vector<std::string>& bridge_ports);
std::vector<std::string> StaleRunDirs(const JudgedLeases& judged, const std::vector<std::string>& names);

// The judge corral-run uses at its start: an unnamed corral-run's lease lives as long as that
// process (pid, start time, boot); any other lease is left to its owner (corrald keeps the
// address of a stopped container), only its forwards go when nobody holds its claim.
BridgeNetwork::LeaseFate JudgeLeaseForRun(const Lease& lease, bool claimed);

// Checks that no host process has bound `forward`'s port on the host's addresses (a forward
// would silently shadow it).
absl::Status CheckHostPortFree(const PortForward& forward);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_NETWORK_H_
