#include "tests/net_world.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "netcfg/ipv4.h"
#include "netcfg/rtnetlink.h"

namespace corral::testing {
namespace {

absl::StatusOr<UniqueFd> CurrentNetns() {
  UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open /proc/thread-self/ns/net");
  return fd;
}

sockaddr_in Address(uint32_t address, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(address);
  return a;
}

}  // namespace

absl::StatusOr<UniqueFd> NetWorld::NewNetns() {
  ASSIGN_OR_RETURN(UniqueFd home, CurrentNetns());
  if (::unshare(CLONE_NEWNET) != 0) return ErrnoError("unshare(CLONE_NEWNET)");
  absl::StatusOr<UniqueFd> fresh = CurrentNetns();
  if (::setns(home.get(), CLONE_NEWNET) != 0) std::abort();
  return fresh;
}

absl::StatusOr<UniqueFd> NetWorld::SocketIn(int netns_fd, int type) {
  ASSIGN_OR_RETURN(UniqueFd home, CurrentNetns());
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return ErrnoError("setns");
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  int saved = errno;
  if (::setns(home.get(), CLONE_NEWNET) != 0) std::abort();
  if (!fd.valid()) return ErrnoError(saved, "socket");
  return fd;
}

absl::StatusOr<UniqueFd> NetWorld::ListenIn(int netns_fd, uint32_t address, uint16_t port) {
  ASSIGN_OR_RETURN(UniqueFd fd, SocketIn(netns_fd, SOCK_STREAM));
  int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in a = Address(address, port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    return ErrnoError(absl::StrCat("bind ", netcfg::FormatIpv4(address), ":", port));
  }
  if (::listen(fd.get(), 256) != 0) return ErrnoError("listen");
  return fd;
}

absl::StatusOr<UniqueFd> NetWorld::ConnectFrom(int netns_fd, uint32_t address, uint16_t port,
                                               const std::string& payload) {
  ASSIGN_OR_RETURN(UniqueFd fd, SocketIn(netns_fd, SOCK_STREAM));
  timeval timeout{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in a = Address(address, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    return ErrnoError(absl::StrCat("connect to ", netcfg::FormatIpv4(address), ":", port));
  }
  if (!payload.empty() && ::send(fd.get(), payload.data(), payload.size(), MSG_NOSIGNAL) < 0) {
    return ErrnoError("send");
  }
  return fd;
}

absl::StatusOr<uint32_t> NetWorld::AcceptPeer(int listener, std::string* payload) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return absl::DeadlineExceededError("no connection arrived within 2 s");
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  UniqueFd conn(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
  if (!conn.valid()) return ErrnoError("accept");
  if (payload != nullptr) {
    pollfd q{conn.get(), POLLIN, 0};
    char buffer[256];
    ssize_t n = ::poll(&q, 1, 2000) == 1 ? ::recv(conn.get(), buffer, sizeof(buffer), 0) : -1;
    payload->assign(buffer, n > 0 ? n : 0);
  }
  return ntohl(peer.sin_addr.s_addr);
}

absl::StatusOr<std::unique_ptr<NetWorld>> NetWorld::Create() {
  std::unique_ptr<NetWorld> world(new NetWorld());
  ASSIGN_OR_RETURN(world->original_, CurrentNetns());
  ASSIGN_OR_RETURN(world->outside_, NewNetns());
  if (::unshare(CLONE_NEWNET) != 0) return ErrnoError("unshare(CLONE_NEWNET) for the test's host");
  ASSIGN_OR_RETURN(world->host_, CurrentNetns());

  // The uplink: host end in the test's host namespace, peer "eth0" in the outside one.
  ASSIGN_OR_RETURN(netcfg::Rtnl host, netcfg::Rtnl::Open());
  host.SetLinkUp("lo");
  host.CreateVeth({"uplink0", 0, "eth0", world->outside_.get(), 1500});
  RETURN_IF_ERROR(host.Commit());
  ASSIGN_OR_RETURN(int uplink, host.LinkIndex("uplink0"));
  host.AddAddress(uplink, {kHostUplinkAddress, 24});
  RETURN_IF_ERROR(host.Commit());
  ASSIGN_OR_RETURN(netcfg::Rtnl outside, netcfg::Rtnl::OpenIn(world->outside_.get()));
  ASSIGN_OR_RETURN(int eth0, outside.LinkIndex("eth0"));
  outside.SetLinkUp("lo");
  outside.SetLinkUp("eth0");
  outside.AddAddress(eth0, {kOutsideAddress, 24});
  RETURN_IF_ERROR(outside.Commit());
  return world;
}

NetWorld::~NetWorld() {
  if (original_.valid() && ::setns(original_.get(), CLONE_NEWNET) != 0) std::abort();
}

}  // namespace corral::testing
