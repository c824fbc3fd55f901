// Execs started by a container's supervisor: corrald sends the request (the spec, the
// command's stdio and the report socket) over a socket it made when it forked the supervisor,
// and the supervisor forks the attach helper. The supervisor already sits in the container's
// cgroups, so the helper joins no cgroup v1 hierarchy and the command is born in the payload
// cgroup: no cgroup move, whose RCU grace period (8 ms and more on a small VM) would be most
// of an exec's time. Both the helper and the command are corrald's children
// (runtime::ForkAttachHelperForParent), so corrald watches, kills and reaps them as it does its
// own; a supervisor corrald did not fork (after a corrald restart) has no such socket, and
// corrald forks the helper itself.
#ifndef CORRAL_DBUS_SUPERVISOR_EXEC_H_
#define CORRAL_DBUS_SUPERVISOR_EXEC_H_

#include <memory>

#include "absl/status/statusor.h"
#include "runtime/attach.h"

namespace corral::dbus {

// corrald's side: asks the supervisor at the other end of `requests` to start `spec` (its
// stdio fds go with the request; they may be closed once this returns). Never blocks: a
// supervisor that does not take the request at once (its socket full, gone) is an error, and
// the caller starts the attach itself.
absl::StatusOr<std::unique_ptr<runtime::AttachInProgress>> RequestExecFromSupervisor(int requests,
                                                                                   const runtime::AttachSpec& spec);

// The supervisor's side, when `requests` is readable: takes one request and forks its helper
// into the container of `leader_pidfd`, the command to be born in `payload_cgroup` (a cgroup2
// directory fd). What goes wrong is reported on the request's own report socket. False when
// corrald's end is gone (stop watching the socket).
bool ServeExecRequest(int requests, int leader_pidfd, int payload_cgroup);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_EXEC_H_
