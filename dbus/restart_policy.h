// A container's restart policy (`--restart no|on-failure[:N]|always`, the Restart s option):
// whether corrald starts a container again after its init exited, and after how long. Pure.
//
// As Docker's: on-failure restarts after a non-zero exit status (a signal included), at most N
// times in a row when N is given; always after any exit; never after the user's stop or kill
// through corrald (StopContainer, KillContainer), nor after a start that failed. The delay
// doubles from 100 ms up to 30 s; a run that lasted 10 s or more counts as a success and the
// count starts again. The count and a restart waiting for its delay are kept beside the config
// (restart-count, restart-pending): a corrald restart during the back-off starts the container
// when it is due (a container that ends while no corrald runs stays stopped).
#ifndef CORRAL_DBUS_RESTART_POLICY_H_
#define CORRAL_DBUS_RESTART_POLICY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::dbus {

struct RestartPolicy {
  enum class Kind { kNo, kOnFailure, kAlways };
  Kind kind = Kind::kNo;
  uint32_t max_retries = 0;  // on-failure:N; 0: without limit
};

// "no", "on-failure", "on-failure:N" (N from 1), "always"; InvalidArgument otherwise.
absl::StatusOr<RestartPolicy> ParseRestartPolicy(absl::string_view text);
std::string FormatRestartPolicy(const RestartPolicy& policy);

// A run that lasted this long resets the count of restarts in a row.
inline constexpr uint64_t kRestartResetUsec = 10'000'000;

// Whether to start again after the init exited with `exit_status` (128+signal when killed),
// having been restarted `restarts` times in a row already; never when the user stopped it.
bool ShouldRestart(const RestartPolicy& policy, int exit_status, bool stopped_by_user, uint32_t restarts);

// The wait before restart number `restarts` + 1: 100 ms, 200 ms, 400 ms, ... at most 30 s.
uint64_t RestartDelayUsec(uint32_t restarts);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_RESTART_POLICY_H_
