// A route netlink (rtnetlink) socket, over libmnl, for the few link, address and route changes
// the bridge network makes. Requests are queued and go to the kernel together: Commit() sends
// them in one sendmsg and reads every acknowledgement, so bringing a container's network up
// costs a couple of round trips rather than one per change.
#ifndef CORRAL_NETCFG_RTNETLINK_H_
#define CORRAL_NETCFG_RTNETLINK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netcfg/ipv4.h"

struct mnl_socket;
struct nlmsghdr;

namespace corral::netcfg {

struct VethSpec {
  std::string host_name;       // the end that stays in the socket's namespace
  int master_index = 0;        // bridge to enslave the host end to; 0 for none
  std::string peer_name;       // the container's end, "eth0"
  int peer_netns_fd = -1;      // created directly in this namespace; -1 for the socket's own
  uint32_t mtu = 1500;
};

// A link's traffic counters (IFLA_STATS64), as the link itself counts them: for the host end
// of a container's veth, rx is what the container sent and tx what it received.
struct LinkCounters {
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
};

class Rtnl {
 public:
  // An rtnetlink socket in the calling thread's network namespace.
  static absl::StatusOr<Rtnl> Open();
  // An rtnetlink socket in the namespace `netns_fd` refers to. The calling thread enters that
  // namespace just long enough to create the socket; the socket stays bound to it.
  static absl::StatusOr<Rtnl> OpenIn(int netns_fd);

  Rtnl(Rtnl&&) noexcept;
  Rtnl& operator=(Rtnl&&) noexcept;
  ~Rtnl();

  // ---- queued requests, sent by Commit() ----
  void CreateBridge(const std::string& name, uint32_t mtu);  // created up
  void CreateVeth(const VethSpec& spec);                     // host end up; the peer is brought up from inside
  void SetLinkUp(const std::string& name);
  void AddAddress(int index, const Ipv4Interface& address);  // replaces an equal one
  void AddDefaultRoute(int index, uint32_t gateway);
  void DeleteLink(const std::string& name);
  // Sends the queue and waits for every answer. Returns the first failure as
  // "STEP: strerror (ENAME): kernel's message"; later requests were still carried out.
  absl::Status Commit();

  // ---- immediate queries ----
  // The index of the named link, NotFound when there is none.
  absl::StatusOr<int> LinkIndex(const std::string& name);
  // The named link's counters; NotFound when there is no such link.
  absl::StatusOr<LinkCounters> Counters(const std::string& name);
  // The names of the links enslaved to `master_index` (a bridge's ports).
  absl::StatusOr<std::vector<std::string>> LinksOf(int master_index);
  // The link's IPv4 addresses (with prefixes).
  absl::StatusOr<std::vector<Ipv4Interface>> Addresses(int index);

 private:
  explicit Rtnl(mnl_socket* socket);
  ::nlmsghdr* NewMessage(uint16_t type, uint16_t flags, std::string step);
  absl::Status SendAndCollect(std::vector<char>* replies_out);

  mnl_socket* socket_ = nullptr;
  uint32_t port_id_ = 0;
  uint32_t next_seq_ = 1;
  std::vector<char> queue_;          // messages back to back
  std::vector<std::string> steps_;   // step name of each queued message, by seq - first_seq_
  uint32_t first_seq_ = 1;
};

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_RTNETLINK_H_
