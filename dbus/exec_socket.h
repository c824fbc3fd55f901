// corrald's end of the exec socket (dbus/exec_wire.h): accepts connections from root only,
// takes one request from each within a deadline (a client that connects and says nothing
// holds nothing), and hands the request, its fds and the connection to corrald, which answers
// on the connection once the command has exited. Nothing here ever blocks the loop.
#ifndef CORRAL_DBUS_EXEC_SOCKET_H_
#define CORRAL_DBUS_EXEC_SOCKET_H_

#include <systemd/sd-event.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "dbus/exec_wire.h"

namespace corral::dbus {

struct ExecSocketCall {
  ExecRequest request;
  std::vector<UniqueFd> fds;  // as they came: stdio, then the PtyReceiver when asked for
  UniqueFd connection;        // the reply goes here (SendExecReply)
};

class ExecSocket {
 public:
  using Handler = std::function<void(ExecSocketCall call)>;
  // Binds `path` (root only: 0600 under a umask, any stale socket replaced) and serves it on
  // `event`. `handler` runs from the loop, once per well-formed request.
  static absl::StatusOr<std::unique_ptr<ExecSocket>> Listen(sd_event* event, const std::string& path,
                                                            Handler handler);
  ~ExecSocket();
  ExecSocket(const ExecSocket&) = delete;
  ExecSocket& operator=(const ExecSocket&) = delete;

 private:
  struct Connection;  // accepted, its request not read yet
  ExecSocket() = default;
  void Accept();
  void Read(Connection* connection);
  void Drop(Connection* connection);

  sd_event* event_ = nullptr;
  std::string path_;
  UniqueFd listener_;
  sd_event_source* source_ = nullptr;
  Handler handler_;
  std::set<Connection*> connections_;
};

// Sends `reply` on `connection` without waiting: a caller that does not read its socket
// loses its answer, never holds corrald.
void SendExecReply(int connection, const ExecReply& reply);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_EXEC_SOCKET_H_
