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

// Forward-hook chains of other tables whose policy is drop ("table ip filter chain FORWARD"),
// which would drop the containers' traffic whatever corral's table accepts (Docker does this).
absl::StatusOr<std::vector<std::string>> ForwardDroppingChains(Nftables& nft);
// The same check on `nft list chains` output, for tests.
std::vector<std::string> FindForwardDroppingChains(absl::string_view list_chains_output);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_NAT_H_
