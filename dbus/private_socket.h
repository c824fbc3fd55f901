// corrald's private socket (like systemd's /run/systemd/private): root's corralctl talks to
// corrald directly there, without dbus-daemon's hops, Hello and policy pass. Each connection
// is an sd-bus server connection on corrald's loop with the same objects published on it.
// Made under umask 0077, so only root can connect; corrald still checks the peer's uid.
#ifndef CORRAL_DBUS_PRIVATE_SOCKET_H_
#define CORRAL_DBUS_PRIVATE_SOCKET_H_

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/unique_fd.h"
#include "dbus/bus_ptr.h"

namespace corral::dbus {

class PrivateSocket {
 public:
  // Publishes the objects on a new connection (the slots live as long as it does).
  using Publish = std::function<absl::Status(sd_bus* bus, std::vector<SlotPtr>* slots)>;
  // A connection's peer went away (before the connection is freed, from the loop).
  using Disconnected = std::function<void(sd_bus* bus)>;

  PrivateSocket(sd_event* event, Publish publish, Disconnected disconnected);
  ~PrivateSocket();

  absl::Status Listen(const std::string& path);

 private:
  struct Connection;
  void Accept();
  void OnDisconnect(sd_bus* bus);

  sd_event* event_;
  Publish publish_;
  Disconnected disconnected_;
  UniqueFd listener_;
  EventSourcePtr source_;
  std::map<sd_bus*, std::unique_ptr<Connection>> connections_;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_PRIVATE_SOCKET_H_
