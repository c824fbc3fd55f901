// The supervisor's console server: a unix socket (console.sock in the run directory) on which
// each client gets a new proxy pty (its master passed with SCM_RIGHTS, its path as data). The
// container's console output goes to the session attached now, and into a ring buffer while
// nobody is, so the next session sees what it missed (a prompt, the end of a boot log). A new
// session replaces the old one, whose client sees its pty hang up.
#ifndef CORRAL_DBUS_SUPERVISOR_CONSOLE_SERVER_H_
#define CORRAL_DBUS_SUPERVISOR_CONSOLE_SERVER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace corral::dbus {

class ConsoleServer {
 public:
  // How much console output is kept for the next session.
  static constexpr size_t kRingBytes = 16 * 1024;

  // Listens on `path` (a stale socket there is replaced).
  absl::Status Listen(const std::string& path);

  int listener() const { return listener_.get(); }
  int session() const { return session_.valid() ? session_.get() : -1; }

  // A client is waiting on the listener: it gets a new session. A message for the log when
  // the pty cannot be made (empty when it was fine or the client went away).
  std::string Accept();

  // Output of the container's console: kept in the ring and passed to the session.
  void Output(absl::string_view data);

  // The session is readable: what its client typed goes to `console`; a client that closed
  // its master ends the session (back to buffering).
  void Input(int console);

  void EndSession() { session_.reset(); }

 private:
  UniqueFd listener_;
  UniqueFd session_;  // the proxy pty's slave while a client is attached
  std::string ring_;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_CONSOLE_SERVER_H_
