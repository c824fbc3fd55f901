// IPv4 addresses and the bridge's subnet: parsing, printing and the arithmetic IPAM needs.
// Addresses are kept in host byte order; netlink and nftables get them converted at the edge.
#ifndef CORRAL_NETCFG_IPV4_H_
#define CORRAL_NETCFG_IPV4_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::netcfg {

// "10.77.0.1" -> 0x0a4d0001. Rejects anything that is not four decimal octets.
absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text);
std::string FormatIpv4(uint32_t address);

// An address with its prefix length, as configured on an interface ("10.77.0.1/16").
struct Ipv4Interface {
  uint32_t address = 0;
  int prefix = 0;

  uint32_t netmask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  uint32_t network() const { return address & netmask(); }
  uint32_t broadcast() const { return network() | ~netmask(); }
  bool Contains(uint32_t other) const { return (other & netmask()) == network(); }
  std::string ToString() const;        // "10.77.0.1/16"
  std::string SubnetString() const;    // "10.77.0.0/16"
};

// Parses "ADDRESS/PREFIX" for a host on a subnet: the prefix must leave room for hosts (1..30)
// and the address must be neither the network nor the broadcast address.
absl::StatusOr<Ipv4Interface> ParseIpv4Interface(absl::string_view text);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_IPV4_H_
