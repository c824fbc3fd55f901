// Port forwards: "-p [tcp|udp:]HOSTPORT:CTRPORT" on the command line, (proto, host, container)
// on D-Bus. A forward sends what reaches HOSTPORT on any of the host's addresses to the
// container's CTRPORT.
#ifndef CORRAL_NETCFG_PORTS_H_
#define CORRAL_NETCFG_PORTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::netcfg {

enum class Protocol { kTcp, kUdp };

struct PortForward {
  Protocol protocol = Protocol::kTcp;
  uint16_t host_port = 0;
  uint16_t container_port = 0;

  bool operator==(const PortForward&) const = default;
};

absl::string_view ProtocolName(Protocol protocol);  // "tcp" / "udp"
absl::StatusOr<Protocol> ParseProtocol(absl::string_view text);

// "8080:80", "tcp:8080:80", "udp:5353:53".
absl::StatusOr<PortForward> ParsePortForward(absl::string_view text);

// "tcp:8080:80", the form ParsePortForward reads back.
std::string ToString(const PortForward& forward);

// Two forwards of one protocol from the same host port cannot both be honoured.
absl::Status CheckNoOverlap(const std::vector<PortForward>& forwards);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_PORTS_H_
