#include "netcfg/nat.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace corral::netcfg {

std::string HostRuleset(const NetworkConfig& config) {
  const std::string subnet = config.gateway.SubnetString();
  const std::string t = absl::StrCat("ip ", kNatTable);
  std::string rules;
  absl::StrAppend(&rules, "add table ", t, "\n");
  for (const char* proto : {"tcp", "udp"}) {
    absl::StrAppend(&rules, "add map ", t, " ", proto, "_forwards { type inet_service : ipv4_addr . inet_service ; }\n");
  }
  absl::StrAppend(&rules,
                  "add chain ", t, " prerouting { type nat hook prerouting priority dstnat ; policy accept ; }\n",
                  "add chain ", t, " output { type nat hook output priority -100 ; policy accept ; }\n",
                  "add chain ", t, " postrouting { type nat hook postrouting priority srcnat ; policy accept ; }\n",
                  "add chain ", t, " forward { type filter hook forward priority filter ; policy accept ; }\n");
  for (const char* chain : {"prerouting", "output", "postrouting", "forward"}) {
    absl::StrAppend(&rules, "flush chain ", t, " ", chain, "\n");
  }
  for (const char* proto : {"tcp", "udp"}) {
    // Traffic to any of the host's own addresses; from the host itself too (output hook),
    // except loopback, which the kernel will not route to another interface.
    absl::StrAppend(&rules, "add rule ", t, " prerouting fib daddr type local dnat ip to ", proto, " dport map @",
                    proto, "_forwards\n");
    absl::StrAppend(&rules, "add rule ", t, " output ip daddr != 127.0.0.0/8 fib daddr type local dnat ip to ",
                    proto, " dport map @", proto, "_forwards\n");
  }
  absl::StrAppend(&rules, "add rule ", t, " postrouting ip saddr ", subnet, " ip daddr != ", subnet, " masquerade\n");
  absl::StrAppend(&rules, "add rule ", t, " forward iifname \"", config.bridge, "\" accept\n");
  absl::StrAppend(&rules, "add rule ", t, " forward oifname \"", config.bridge,
                  "\" ct state established,related accept\n");
  absl::StrAppend(&rules, "add rule ", t, " forward oifname \"", config.bridge, "\" ct status dnat accept\n");
  return rules;
}

absl::StatusOr<bool> NatTableExists() {
  std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> socket(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC),
                                                                   &mnl_socket_close);
  if (socket == nullptr) return ErrnoError("open nfnetlink socket");
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) != 0) return ErrnoError("bind nfnetlink socket");
  char buffer[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = 1;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = NFPROTO_IPV4;
  nfg->version = NFNETLINK_V0;
  mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, kNatTable);
  if (mnl_socket_sendto(socket.get(), nlh, nlh->nlmsg_len) < 0) return ErrnoError("ask nftables for table ip corral");
  uint32_t port = mnl_socket_get_portid(socket.get());
  bool found = false;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(socket.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read nftables answer");
    }
    int len = static_cast<int>(n);
    for (const nlmsghdr* m = reinterpret_cast<const nlmsghdr*>(buffer); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_pid != port) continue;
      if (m->nlmsg_type == NLMSG_ERROR) {
        int error = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m))->error;
        if (error == 0) return found;
        if (error == ENOENT) return false;
        return ErrnoError(error, "ask nftables for table ip corral");
      }
      if ((m->nlmsg_type & 0xff) == NFT_MSG_NEWTABLE) found = true;
    }
  }
}

namespace {

std::string Elements(const std::vector<PortForward>& forwards, Protocol protocol, uint32_t address, bool with_values) {
  std::vector<std::string> items;
  for (const PortForward& f : forwards) {
    if (f.protocol != protocol) continue;
    items.push_back(with_values ? absl::StrCat(f.host_port, " : ", FormatIpv4(address), " . ", f.container_port)
                                : absl::StrCat(f.host_port));
  }
  return absl::StrJoin(items, ", ");
}

}  // namespace

absl::Status AddPortForwards(Nftables& nft, uint32_t container_address, const std::vector<PortForward>& forwards) {
  std::string commands;
  for (Protocol p : {Protocol::kTcp, Protocol::kUdp}) {
    std::string elements = Elements(forwards, p, container_address, true);
    if (elements.empty()) continue;
    // `create` rather than `add`: an element that is already there is an error, not a no-op.
    absl::StrAppend(&commands, "create element ip ", kNatTable, " ", ProtocolName(p), "_forwards { ", elements, " }\n");
  }
  if (commands.empty()) return absl::OkStatus();
  absl::Status status = nft.Run(commands, "add port forwards");
  if (!status.ok() && absl::StrContains(status.message(), "File exists")) {
    std::vector<std::string> names;
    for (const PortForward& f : forwards) names.push_back(absl::StrCat(ProtocolName(f.protocol), "/", f.host_port));
    return absl::FailedPreconditionError(absl::StrCat("host port ", absl::StrJoin(names, ", "),
                                                      ": already forwarded by table ip corral"));
  }
  return status;
}

absl::Status RemovePortForwards(Nftables& nft, const std::vector<PortForward>& forwards) {
  // One element at a time: deleting a missing element fails the whole transaction, and after
  // a crash some may be gone already.
  for (const PortForward& f : forwards) {
    absl::Status status = nft.Run(absl::StrCat("delete element ip ", kNatTable, " ", ProtocolName(f.protocol),
                                               "_forwards { ", f.host_port, " }\n"),
                                  absl::StrCat("remove port forward ", ToString(f)));
    if (!status.ok() && !absl::StrContains(status.message(), "No such file") &&
        !absl::StrContains(status.message(), "does not exist")) {
      return status;
    }
  }
  return absl::OkStatus();
}

std::string ToString(const MapForward& f) {
  return absl::StrCat(ProtocolName(f.protocol), "/", f.host_port, " -> ", FormatIpv4(f.address), ":", f.container_port);
}

absl::StatusOr<std::vector<MapForward>> ParseMapForwards(absl::string_view text) {
  std::vector<MapForward> found;
  size_t pos = 0;
  for (;;) {
    size_t map = text.find("map ", pos);
    if (map == absl::string_view::npos) break;
    size_t name_end = text.find_first_of(" {", map + 4);
    if (name_end == absl::string_view::npos) break;
    absl::string_view name = text.substr(map + 4, name_end - map - 4);
    pos = name_end;
    Protocol protocol;
    if (name == absl::StrCat(ProtocolName(Protocol::kTcp), "_forwards")) {
      protocol = Protocol::kTcp;
    } else if (name == absl::StrCat(ProtocolName(Protocol::kUdp), "_forwards")) {
      protocol = Protocol::kUdp;
    } else {
      continue;
    }
    // A map without elements has no "elements" line: the next one found may be another map's.
    size_t next_map = text.find("map ", pos);
    size_t elements = text.find("elements = {", pos);
    if (elements == absl::string_view::npos || elements > next_map) continue;
    size_t open = elements + strlen("elements = {");
    size_t close = text.find('}', open);
    if (close == absl::string_view::npos) return absl::InternalError("nft map listing: unterminated elements");
    pos = close + 1;
    for (absl::string_view item : absl::StrSplit(text.substr(open, close - open), ',', absl::SkipWhitespace())) {
      // "8080 : 10.77.0.2 . 80"
      std::vector<absl::string_view> words = absl::StrSplit(item, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
      MapForward f;
      f.protocol = protocol;
      absl::StatusOr<uint32_t> address = words.size() == 5 ? ParseIpv4(words[2]) : absl::InvalidArgumentError("");
      uint32_t host_port = 0;
      uint32_t container_port = 0;
      if (words.size() != 5 || words[1] != ":" || words[3] != "." || !address.ok() ||
          !absl::SimpleAtoi(words[0], &host_port) || !absl::SimpleAtoi(words[4], &container_port) ||
          host_port > 65535 || container_port > 65535) {
        return absl::InternalError(absl::StrCat("nft map listing: cannot read element \"",
                                                absl::StripAsciiWhitespace(item), "\" of ", name));
      }
      f.host_port = static_cast<uint16_t>(host_port);
      f.address = *address;
      f.container_port = static_cast<uint16_t>(container_port);
      found.push_back(f);
    }
  }
  return found;
}

absl::StatusOr<std::vector<MapForward>> ListMapForwards(Nftables& nft) {
  ASSIGN_OR_RETURN(bool have_table, NatTableExists());
  if (!have_table) return std::vector<MapForward>{};
  // One map per command: libnftables fails a buffer that lists two maps.
  std::string text;
  for (Protocol p : {Protocol::kTcp, Protocol::kUdp}) {
    ASSIGN_OR_RETURN(std::string map,
                     nft.Query(absl::StrCat("list map ip ", kNatTable, " ", ProtocolName(p), "_forwards\n"),
                               "list the port forward maps"));
    text += map;
  }
  return ParseMapForwards(text);
}

absl::Status DeleteMapForwards(Nftables& nft, const std::vector<MapForward>& forwards) {
  std::string commands;
  for (Protocol p : {Protocol::kTcp, Protocol::kUdp}) {
    std::vector<std::string> keys;
    for (const MapForward& f : forwards) {
      if (f.protocol == p) keys.push_back(absl::StrCat(f.host_port));
    }
    if (keys.empty()) continue;
    absl::StrAppend(&commands, "delete element ip ", kNatTable, " ", ProtocolName(p), "_forwards { ",
                    absl::StrJoin(keys, ", "), " }\n");
  }
  if (commands.empty()) return absl::OkStatus();
  return nft.Run(commands, "remove port forwards");
}

std::vector<std::string> FindForwardDroppingChains(absl::string_view text) {
  std::vector<std::string> found;
  std::string table;
  std::string chain;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(line, "table ")) {
      table = std::string(absl::StripSuffix(absl::StripAsciiWhitespace(line.substr(6)), "{"));
      table = std::string(absl::StripAsciiWhitespace(table));
    } else if (absl::StartsWith(line, "chain ")) {
      chain = std::string(absl::StripAsciiWhitespace(absl::StripSuffix(line.substr(6), "{")));
    } else if (absl::StrContains(line, "hook forward") && absl::StrContains(line, "policy drop") &&
               table != absl::StrCat("ip ", kNatTable)) {
      found.push_back(absl::StrCat("table ", table, " chain ", chain));
    }
  }
  return found;
}

absl::StatusOr<std::vector<std::string>> ForwardDroppingChains(Nftables& nft) {
  absl::StatusOr<std::string> chains = nft.Query("list chains\n", "list nftables chains");
  if (!chains.ok()) return chains.status();
  return FindForwardDroppingChains(*chains);
}

}  // namespace corral::netcfg
