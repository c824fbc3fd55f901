// OpenConsole without waiting: corrald asks a container's supervisor for a console session
// over its console socket from the event loop, with a deadline, so a supervisor that does not
// accept or does not answer (stopped, stuck, its backlog full) costs an error, never the loop.
#ifndef CORRAL_DBUS_SUPERVISOR_CONSOLE_REQUEST_H_
#define CORRAL_DBUS_SUPERVISOR_CONSOLE_REQUEST_H_

#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include <string>

#include "common/unique_fd.h"
#include "dbus/container_paths.h"

namespace corral::dbus {

// A console session from the supervisor of a running container (its console_server.h): the
// proxy pty's master and its path.
struct ConsoleSession {
  UniqueFd master;
  std::string pty;
};

// How long a supervisor has to hand over a session.
inline constexpr uint64_t kConsoleRequestTimeoutUsec = 2 * 1000000;

// Connects without blocking (a full backlog is an immediate Unavailable) and calls `done` from
// `event` once the session arrived, the supervisor hung up, or `timeout_usec` passed. `done` may
// also be called before this returns (the connect failed); it is called exactly once.
void RequestConsoleAsync(sd_event* event, const ContainerPaths& paths, uint64_t timeout_usec,
                         std::function<void(absl::StatusOr<ConsoleSession>)> done);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_CONSOLE_REQUEST_H_
