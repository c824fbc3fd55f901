// The checks every exec request passes, from the Exec method or the exec socket
// (exec_wire.h) alike, and the AttachSpec made of it (stdio still to be set).
#ifndef CORRAL_DBUS_EXEC_REQUEST_H_
#define CORRAL_DBUS_EXEC_REQUEST_H_

#include "absl/status/status.h"
#include "dbus/exec_wire.h"
#include "runtime/attach.h"

namespace corral::dbus {

// `pty_receiver` is the PtyReceiver socket, or -1. InvalidArgument (ErrorKind attached) for
// an empty command, an environment entry that is not KEY=VALUE, a User that is not
// UID[:GID], a PtyReceiver without Tty or that is not a unix socket.
absl::Status SpecFromRequest(const ExecRequest& request, int pty_receiver, runtime::AttachSpec* spec);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_EXEC_REQUEST_H_
