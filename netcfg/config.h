// The bridge network's configuration, read from /etc/corral/network.conf. Every key is
// optional; a missing file means the defaults below. Format, one `key = value` per line,
// `#` starts a comment:
//
//   bridge = corral0            # the host bridge, at most 15 characters
//   address = 10.77.0.1/16      # the bridge's (the containers' gateway's) address and subnet
//   mtu = 1500                  # MTU of the bridge and of every veth
//   dns = 192.0.2.53 192.0.2.54 # nameservers for containers instead of the host's
//   resolv_conf = /etc/resolv.conf   # where the host's nameservers are read from
//   state_dir = /var/lib/corral/network  # address leases (persistent)
//   run_dir = /run/corral/network        # per-container resolv.conf and hosts (volatile)
#ifndef CORRAL_NETCFG_CONFIG_H_
#define CORRAL_NETCFG_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netcfg/ipv4.h"

namespace corral::netcfg {

inline constexpr char kDefaultNetworkConfigPath[] = "/etc/corral/network.conf";

struct NetworkConfig {
  std::string bridge = "corral0";
  Ipv4Interface gateway{(10u << 24) | (77u << 16) | 1u, 16};
  uint32_t mtu = 1500;
  std::vector<std::string> dns;  // empty: derive from resolv_conf
  std::string resolv_conf = "/etc/resolv.conf";
  std::string state_dir = "/var/lib/corral/network";
  std::string run_dir = "/run/corral/network";
};

// Parses the file's text; errors name the line and the key.
absl::StatusOr<NetworkConfig> ParseNetworkConfig(absl::string_view text);

// Reads `path`; a file that does not exist gives the defaults.
absl::StatusOr<NetworkConfig> LoadNetworkConfig(const std::string& path = kDefaultNetworkConfigPath);

// A Linux interface name: 1 to 15 characters, no '/', ':' or white space, not "." or "..".
absl::Status ValidateInterfaceName(absl::string_view name);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_CONFIG_H_
