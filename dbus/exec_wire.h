// corrald's exec socket: `corralctl exec` as one message each way on a SOCK_SEQPACKET unix
// socket (/run/corral/exec, root only), the stdio fds beside the request (SCM_RIGHTS). It says
// what the Exec method's arguments say, without D-Bus: the client needs no libsystemd (its
// loading was a third of an exec's time) and no SASL handshake. The Exec method stays the
// contract; this is a faster road to the same handler.
#ifndef CORRAL_DBUS_EXEC_WIRE_H_
#define CORRAL_DBUS_EXEC_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::dbus {

// Where corrald listens, unless CORRAL_RUN_DIR moves its run directory.
inline constexpr char kExecSocketName[] = "exec";
inline constexpr char kDefaultRunDir[] = "/run/corral";

// The largest request or reply: within a SOCK_SEQPACKET socket's default buffer.
inline constexpr size_t kMaxExecMessage = 64 * 1024;

// A request's fds: stdin, stdout, stderr, then the PtyReceiver socket when pty_receiver.
inline constexpr size_t kExecStdioFds = 3;

struct ExecRequest {
  std::string name;                  // the container
  std::vector<std::string> command;  // not empty
  std::vector<std::string> env;      // KEY=VALUE (checked by corrald, as the method's are)
  std::string user;                  // "UID[:GID]", or empty for root
  std::string cwd;                   // empty: the default
  bool tty = false;                  // stdin becomes the controlling terminal (the method's Tty)
  bool pty_receiver = false;         // a fourth fd, the method's PtyReceiver, follows stdio
};

// The answer: the command's exit status (128 + signal), or the error the method would have
// replied with (its D-Bus name and message).
struct ExecReply {
  bool exited = false;
  int exit_status = 0;
  std::string error_name;
  std::string message;
};

absl::StatusOr<std::string> EncodeExecRequest(const ExecRequest& request);
// Anything but what Encode makes (cut, padded, another version, unknown flags, no command) is
// an error, never a partial request.
absl::StatusOr<ExecRequest> DecodeExecRequest(absl::string_view bytes);

std::string EncodeExecReply(const ExecReply& reply);
absl::StatusOr<ExecReply> DecodeExecReply(absl::string_view bytes);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_EXEC_WIRE_H_
