// A small network world of a test's own, for the bridge network's privileged tests:
//   - the calling thread moves into a fresh "host" namespace, where the bridge will live;
//   - an "outside" namespace plays the rest of the world, joined to the host by an uplink veth
//     (host 198.51.100.1/24, outside 198.51.100.2/24, a documentation range);
//   - containers are further namespaces.
// Sockets are made inside a namespace by entering it just for socket(): they stay there, so
// a test can listen in one namespace and connect from another without any process or thread.
// Nothing here touches the real host's network; everything goes away with the namespaces.
#ifndef CORRAL_TESTS_NET_WORLD_H_
#define CORRAL_TESTS_NET_WORLD_H_

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace corral::testing {

inline constexpr uint32_t kHostUplinkAddress = (198u << 24) | (51u << 16) | (100u << 8) | 1u;
inline constexpr uint32_t kOutsideAddress = (198u << 24) | (51u << 16) | (100u << 8) | 2u;

class NetWorld {
 public:
  static absl::StatusOr<std::unique_ptr<NetWorld>> Create();
  ~NetWorld();  // the thread goes back to the namespace it came from

  int host_netns() const { return host_.get(); }
  int outside_netns() const { return outside_.get(); }

  // A fresh, empty namespace (a container's).
  static absl::StatusOr<UniqueFd> NewNetns();

  // A TCP or UDP socket created in the namespace `netns_fd`.
  static absl::StatusOr<UniqueFd> SocketIn(int netns_fd, int type);
  // A listening TCP socket in `netns_fd` on `address`:`port` (address 0 = any).
  static absl::StatusOr<UniqueFd> ListenIn(int netns_fd, uint32_t address, uint16_t port);
  // Connects from `netns_fd` to `address`:`port` (2 s timeout) and sends `payload`.
  static absl::StatusOr<UniqueFd> ConnectFrom(int netns_fd, uint32_t address, uint16_t port,
                                              const std::string& payload = "");
  // Accepts one connection on `listener` (2 s timeout); returns the peer's address as seen
  // there, and the first bytes it sent in `payload` when not null.
  static absl::StatusOr<uint32_t> AcceptPeer(int listener, std::string* payload = nullptr);

 private:
  NetWorld() = default;
  UniqueFd original_;
  UniqueFd host_;
  UniqueFd outside_;
};

}  // namespace corral::testing

#endif  // CORRAL_TESTS_NET_WORLD_H_
