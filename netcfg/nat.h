// corral's own nftables table, `table ip corral` (like LXC's `table ip lxc`): masquerade for
// the bridge's subnet, forward accept for the bridge, and port forwards kept as elements of two
// maps, so adding or removing a container's forwards never rewrites a rule and never touches
// another table.
#ifndef CORRAL_NETCFG_NAT_H_
#define CORRAL_NETCFG_NAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "netcfg/config.h"
#include "netcfg/nftables.h"
#include "netcfg/ports.h"

namespace corral::netcfg {

inline constexpr char kNatTable[] = "corral";

// The whole table as one idempotent transaction: chains are flushed and refilled, the maps
// (with the forwards of running containers) are kept.
std::string HostRuleset(const NetworkConfig& config);

// True when `table ip corral` exists in the calling thread's network namespace. Asks the
// kernel over nfnetlink directly: cheap enough for every start, unlike loading libnftables.
absl::StatusOr<bool> NatTableExists();

// Adds forwards to `container_address`; a host port already in the map is an error naming it.
absl::Status AddPortForwards(Nftables& nft, uint32_t container_address, const std::vector<PortForward>& forwards);
// Removes forwards; ones already gone are fine.
absl::Status RemovePortForwards(Nftables& nft, const std::vector<PortForward>& forwards);

// One element of the forward maps as the kernel has it: host port -> address . port.
struct MapForward {
  Protocol protocol = Protocol::kTcp;
  uint16_t host_port = 0;
  uint32_t address = 0;
  uint16_t container_port = 0;
  bool operator==(const MapForward&) const = default;
};
// "tcp/8080 -> 10.77.0.2:80", for logs and reports.
std::string ToString(const MapForward& forward);

// Every element of both forward maps (none when the table is missing).
absl::StatusOr<std::vector<MapForward>> ListMapForwards(Nftables& nft);
// The same from `nft list map` output, for tests.
absl::StatusOr<std::vector<MapForward>> ParseMapForwards(absl::string_view list_map_output);
// Deletes the elements in one transaction: all of them or, on error, none.
absl::Status DeleteMapForwards(Nftables& nft, const std::vector<MapForward>& forwards);

// Forward-hook chains of other tables whose policy is drop ("table ip filter chain FORWARD"),
// which would drop the containers' traffic whatever corral's table accepts (Docker does this).
absl::StatusOr<std::vector<std::string>> ForwardDroppingChains(Nftables& nft);
// The same check on `nft list chains` output, for tests.
std::vector<std::string> FindForwardDroppingChains(absl::string_view list_chains_output);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_NAT_H_
