// The supervisor's state file (/run/corral/containers/NAME/state): who supervises a running
// container and who its leader is, so that a corrald that restarted finds it again.
//
//   supervisor=PID\nleader=PID\naddresses=ADDRESS ADDRESS...\n
#ifndef CORRAL_DBUS_SUPERVISOR_STATE_FILE_H_
#define CORRAL_DBUS_SUPERVISOR_STATE_FILE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::dbus {

struct SupervisorState {
  pid_t supervisor = -1;
  pid_t leader = -1;
  std::vector<std::string> addresses;
};
std::string FormatSupervisorState(const SupervisorState& state);
// DataLoss when the supervisor or the leader is missing or not a positive number.
absl::StatusOr<SupervisorState> ParseSupervisorState(absl::string_view text);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_STATE_FILE_H_
