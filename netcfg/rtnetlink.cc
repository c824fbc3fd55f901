#include "netcfg/rtnetlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral::netcfg {
namespace {

// Room reserved per queued message; the largest (a veth pair) is under 200 bytes.
constexpr size_t kMessageRoom = 512;

// The kernel's extended-ack text ("Invalid ifindex", ...) of an error message, if any.
std::string ExtAckMessage(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t offset = sizeof(*err);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  std::string message;
  mnl_attr_parse(
      nlh, offset,
      [](const nlattr* attr, void* data) -> int {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
          *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
        }
        return MNL_CB_OK;
      },
      &message);
  return message;
}

}  // namespace

Rtnl::Rtnl(mnl_socket* socket) : socket_(socket), port_id_(mnl_socket_get_portid(socket)) {}

Rtnl::Rtnl(Rtnl&& other) noexcept { *this = std::move(other); }

Rtnl& Rtnl::operator=(Rtnl&& other) noexcept {
  if (this != &other) {
    if (socket_ != nullptr) mnl_socket_close(socket_);
    socket_ = std::exchange(other.socket_, nullptr);
    port_id_ = other.port_id_;
    next_seq_ = other.next_seq_;
    queue_ = std::move(other.queue_);
    steps_ = std::move(other.steps_);
    first_seq_ = other.first_seq_;
  }
  return *this;
}

Rtnl::~Rtnl() {
  if (socket_ != nullptr) mnl_socket_close(socket_);
}

absl::StatusOr<Rtnl> Rtnl::Open() {
  mnl_socket* socket = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (socket == nullptr) return ErrnoError("open rtnetlink socket");
  Rtnl rtnl(socket);  // closes it on the error paths below
  int on = 1;
  // Extended acks carry the kernel's own explanation of a failure; optional.
  mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &on, sizeof(on));
  mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &on, sizeof(on));
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) != 0) return ErrnoError("bind rtnetlink socket");
  rtnl.port_id_ = mnl_socket_get_portid(socket);
  return rtnl;
}

absl::StatusOr<Rtnl> Rtnl::OpenIn(int netns_fd) {
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home.valid()) return ErrnoError("open /proc/thread-self/ns/net");
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return ErrnoError("enter the container's network namespace");
  absl::StatusOr<Rtnl> rtnl = Open();
  if (::setns(home.get(), CLONE_NEWNET) != 0) {
    // This thread would go on in the container's namespace and configure the wrong network.
    std::abort();
  }
  return rtnl;
}

nlmsghdr* Rtnl::NewMessage(uint16_t type, uint16_t flags, std::string step) {
  if (steps_.empty()) first_seq_ = next_seq_;
  size_t offset = queue_.size();
  queue_.resize(offset + kMessageRoom);
  std::memset(queue_.data() + offset, 0, kMessageRoom);
  nlmsghdr* nlh = mnl_nlmsg_put_header(queue_.data() + offset);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = next_seq_++;
  steps_.push_back(std::move(step));
  return nlh;
}

namespace {

// Trims the reserved room of the last message down to its real length.
void Seal(std::vector<char>* queue, nlmsghdr* nlh) {
  size_t start = reinterpret_cast<char*>(nlh) - queue->data();
  queue->resize(start + MNL_ALIGN(nlh->nlmsg_len));
}

}  // namespace

void Rtnl::CreateBridge(const std::string& name, uint32_t mtu) {
  nlmsghdr* nlh = NewMessage(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, absl::StrCat("create bridge ", name));
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, linkinfo);
  Seal(&queue_, nlh);
}

void Rtnl::CreateVeth(const VethSpec& spec) {
  nlmsghdr* nlh = NewMessage(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                             absl::StrCat("create veth ", spec.host_name, " (peer ", spec.peer_name, ")"));
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, spec.host_name.c_str());
  mnl_attr_put_u32(nlh, IFLA_MTU, spec.mtu);
  if (spec.master_index > 0) mnl_attr_put_u32(nlh, IFLA_MASTER, spec.master_index);
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  // The peer is described by its own ifinfomsg followed by link attributes; IFLA_NET_NS_FD
  // makes the kernel create it in the container's namespace, so it is never visible on the host.
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  auto* peer_ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  peer_ifi->ifi_family = AF_UNSPEC;
  // The peer cannot be brought up in the same request: kernel 6.18 answers ENOTCONN (ip link
  // add ... peer ... up fails the same way), so the caller brings it up from inside.
  mnl_attr_put_strz(nlh, IFLA_IFNAME, spec.peer_name.c_str());
  mnl_attr_put_u32(nlh, IFLA_MTU, spec.mtu);
  if (spec.peer_netns_fd >= 0) mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, spec.peer_netns_fd);
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  Seal(&queue_, nlh);
}

void Rtnl::SetLinkUp(const std::string& name) {
  nlmsghdr* nlh = NewMessage(RTM_NEWLINK, 0, absl::StrCat("set ", name, " up"));
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  Seal(&queue_, nlh);
}

void Rtnl::AddAddress(int index, const Ipv4Interface& address) {
  nlmsghdr* nlh = NewMessage(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
                             absl::StrCat("add address ", address.ToString(), " to link ", index));
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = address.prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = index;
  mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(address.address));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(address.address));
  mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(address.broadcast()));
  Seal(&queue_, nlh);
}

void Rtnl::AddDefaultRoute(int index, uint32_t gateway) {
  nlmsghdr* nlh = NewMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
                             absl::StrCat("add default route via ", FormatIpv4(gateway)));
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
  mnl_attr_put_u32(nlh, RTA_OIF, index);
  Seal(&queue_, nlh);
}

void Rtnl::DeleteLink(const std::string& name) {
  nlmsghdr* nlh = NewMessage(RTM_DELLINK, 0, absl::StrCat("delete link ", name));
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  Seal(&queue_, nlh);
}

absl::Status Rtnl::SendAndCollect(std::vector<char>* replies_out) {
  std::vector<std::string> steps = std::move(steps_);
  std::vector<char> queue = std::move(queue_);
  steps_.clear();
  queue_.clear();
  if (steps.empty()) return absl::OkStatus();
  if (mnl_socket_sendto(socket_, queue.data(), queue.size()) < 0) {
    return ErrnoError(absl::StrCat("send rtnetlink request (", steps.front(), ")"));
  }
  absl::Status first_error;
  size_t answered = 0;
  // A link's answer with its statistics and attributes can exceed MNL_SOCKET_BUFFER_SIZE (a page).
  std::vector<char> buffer(32768);
  while (answered < steps.size()) {
    ssize_t n = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read rtnetlink answer");
    }
    int len = static_cast<int>(n);
    for (const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_pid != port_id_) continue;
      uint32_t index = nlh->nlmsg_seq - first_seq_;
      if (index >= steps.size()) continue;  // an answer to an earlier, abandoned request
      if (nlh->nlmsg_type == NLMSG_DONE) {  // the end of a dump, which gets no ack
        ++answered;
        continue;
      }
      if (nlh->nlmsg_type != NLMSG_ERROR) {
        if (replies_out != nullptr) {
          const char* start = reinterpret_cast<const char*>(nlh);
          replies_out->insert(replies_out->end(), start, start + nlh->nlmsg_len);
        }
        continue;
      }
      ++answered;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0 && first_error.ok()) {
        first_error = ErrnoError(-err->error, steps[index]);
        std::string detail = ExtAckMessage(nlh);
        if (!detail.empty()) first_error = absl::Status(first_error.code(), absl::StrCat(first_error.message(), ": ", detail));
      }
    }
  }
  return first_error;
}

absl::Status Rtnl::Commit() { return SendAndCollect(nullptr); }

absl::StatusOr<int> Rtnl::LinkIndex(const std::string& name) {
  nlmsghdr* nlh = NewMessage(RTM_GETLINK, 0, absl::StrCat("find link ", name));
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  Seal(&queue_, nlh);
  std::vector<char> replies;
  absl::Status status = SendAndCollect(&replies);
  if (!status.ok()) {
    if (absl::IsNotFound(status)) {
      return absl::NotFoundError(absl::StrCat("no link named ", name));
    }
    return status;
  }
  if (replies.size() < NLMSG_LENGTH(sizeof(ifinfomsg))) return absl::InternalError(absl::StrCat("find link ", name, ": no answer"));
  const auto* reply = reinterpret_cast<const nlmsghdr*>(replies.data());
  return static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(reply))->ifi_index;
}

absl::StatusOr<LinkCounters> Rtnl::Counters(const std::string& name) {
  nlmsghdr* nlh = NewMessage(RTM_GETLINK, 0, absl::StrCat("read the counters of link ", name));
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  Seal(&queue_, nlh);
  std::vector<char> replies;
  absl::Status status = SendAndCollect(&replies);
  if (absl::IsNotFound(status)) return absl::NotFoundError(absl::StrCat("no link named ", name));
  if (!status.ok()) return status;
  int len = static_cast<int>(replies.size());
  const auto* reply = reinterpret_cast<const nlmsghdr*>(replies.data());
  if (!mnl_nlmsg_ok(reply, len) || reply->nlmsg_type != RTM_NEWLINK) {
    return absl::InternalError(absl::StrCat("read the counters of link ", name, ": no answer"));
  }
  struct Found {
    LinkCounters counters;
    bool seen = false;
  } found;
  mnl_attr_parse(
      reply, sizeof(ifinfomsg),
      [](const nlattr* attr, void* data) -> int {
        auto* f = static_cast<Found*>(data);
        if (mnl_attr_get_type(attr) == IFLA_STATS64 && mnl_attr_get_payload_len(attr) >= sizeof(rtnl_link_stats64)) {
          rtnl_link_stats64 stats;  // copied: the attribute is only 4-byte aligned
          std::memcpy(&stats, mnl_attr_get_payload(attr), sizeof(stats));
          f->counters = {stats.rx_bytes, stats.tx_bytes, stats.rx_packets, stats.tx_packets};
          f->seen = true;
        }
        return MNL_CB_OK;
      },
      &found);
  if (!found.seen) return absl::InternalError(absl::StrCat("read the counters of link ", name, ": no IFLA_STATS64"));
  return found.counters;
}

absl::StatusOr<std::vector<std::string>> Rtnl::LinksOf(int master_index) {
  nlmsghdr* nlh = NewMessage(RTM_GETLINK, NLM_F_DUMP, absl::StrCat("list the links of bridge ", master_index));
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  mnl_attr_put_u32(nlh, IFLA_MASTER, static_cast<uint32_t>(master_index));  // the kernel filters the dump
  Seal(&queue_, nlh);
  std::vector<char> replies;
  RETURN_IF_ERROR(SendAndCollect(&replies));
  struct Found {
    std::string name;
    int master = 0;
  };
  std::vector<std::string> names;
  int len = static_cast<int>(replies.size());
  for (const nlmsghdr* m = reinterpret_cast<const nlmsghdr*>(replies.data()); mnl_nlmsg_ok(m, len);
       m = mnl_nlmsg_next(m, &len)) {
    if (m->nlmsg_type != RTM_NEWLINK) continue;
    Found found;
    mnl_attr_parse(
        m, sizeof(ifinfomsg),
        [](const nlattr* attr, void* data) -> int {
          auto* f = static_cast<Found*>(data);
          if (mnl_attr_get_type(attr) == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
            f->name = mnl_attr_get_str(attr);
          } else if (mnl_attr_get_type(attr) == IFLA_MASTER && mnl_attr_get_payload_len(attr) == 4) {
            f->master = static_cast<int>(mnl_attr_get_u32(attr));
          }
          return MNL_CB_OK;
        },
        &found);
    // Checked here as well: a kernel that ignores the filter dumps every link.
    if (found.master == master_index && !found.name.empty()) names.push_back(found.name);
  }
  return names;
}

absl::StatusOr<std::vector<Ipv4Interface>> Rtnl::Addresses(int index) {
  nlmsghdr* nlh = NewMessage(RTM_GETADDR, NLM_F_DUMP, absl::StrCat("list addresses of link ", index));
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  Seal(&queue_, nlh);
  std::vector<char> replies;
  absl::Status status = SendAndCollect(&replies);
  if (!status.ok()) return status;
  std::vector<Ipv4Interface> addresses;
  int len = static_cast<int>(replies.size());
  for (const nlmsghdr* m = reinterpret_cast<const nlmsghdr*>(replies.data()); mnl_nlmsg_ok(m, len);
       m = mnl_nlmsg_next(m, &len)) {
    if (m->nlmsg_type != RTM_NEWADDR) continue;
    const auto* a = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
    if (static_cast<int>(a->ifa_index) != index) continue;
    Ipv4Interface found{0, a->ifa_prefixlen};
    mnl_attr_parse(
        m, sizeof(ifaddrmsg),
        [](const nlattr* attr, void* data) -> int {
          if (mnl_attr_get_type(attr) == IFA_LOCAL && mnl_attr_get_payload_len(attr) == 4) {
            static_cast<Ipv4Interface*>(data)->address = ntohl(mnl_attr_get_u32(attr));
          }
          return MNL_CB_OK;
        },
        &found);
    addresses.push_back(found);
  }
  return addresses;
}

}  // namespace corral::netcfg
