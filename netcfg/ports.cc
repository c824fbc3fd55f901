#include "netcfg/ports.h"

#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace corral::netcfg {
namespace {

absl::StatusOr<uint16_t> ParsePort(absl::string_view text, absl::string_view whole, absl::string_view which) {
  uint32_t value = 0;
  if (text.empty() || text.find_first_not_of("0123456789") != absl::string_view::npos || text.size() > 5 ||
      !absl::SimpleAtoi(text, &value) || value < 1 || value > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port forward \"", whole, "\": ", which, " port \"", text,
                                                   "\" is not a port number from 1 to 65535"));
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

absl::string_view ProtocolName(Protocol protocol) { return protocol == Protocol::kTcp ? "tcp" : "udp"; }

absl::StatusOr<Protocol> ParseProtocol(absl::string_view text) {
  if (text == "tcp") return Protocol::kTcp;
  if (text == "udp") return Protocol::kUdp;
  return absl::InvalidArgumentError(absl::StrCat("unknown protocol \"", text, "\" (use tcp or udp)"));
}

absl::StatusOr<PortForward> ParsePortForward(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  PortForward forward;
  if (parts.size() == 3) {
    absl::StatusOr<Protocol> protocol = ParseProtocol(parts[0]);
    if (!protocol.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("port forward \"", text, "\": ", protocol.status().message()));
    }
    forward.protocol = *protocol;
    parts.erase(parts.begin());
  }
  if (parts.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("port forward \"", text, "\" is not [tcp|udp:]HOSTPORT:CONTAINERPORT"));
  }
  absl::StatusOr<uint16_t> host = ParsePort(parts[0], text, "host");
  if (!host.ok()) return host.status();
  absl::StatusOr<uint16_t> container = ParsePort(parts[1], text, "container");
  if (!container.ok()) return container.status();
  forward.host_port = *host;
  forward.container_port = *container;
  return forward;
}

std::string ToString(const PortForward& f) {
  return absl::StrCat(ProtocolName(f.protocol), ":", f.host_port, ":", f.container_port);
}

absl::Status CheckNoOverlap(const std::vector<PortForward>& forwards) {
  std::set<std::pair<Protocol, uint16_t>> seen;
  for (const PortForward& f : forwards) {
    if (!seen.insert({f.protocol, f.host_port}).second) {
      return absl::InvalidArgumentError(absl::StrCat("host port ", ProtocolName(f.protocol), "/", f.host_port,
                                                     " is forwarded twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corral::netcfg
