// What a supervisor tells corrald in text: the state file (/run/corral/containers/NAME/state,
// read by a corrald that restarted) and the lines of the report pipe. Pure parsers and writers,
// fuzzed (tests/fuzz/supervisor_state_fuzz.cc, supervisor_report_fuzz.cc).
#ifndef CORRAL_DBUS_SUPERVISOR_WIRE_H_
#define CORRAL_DBUS_SUPERVISOR_WIRE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::dbus {

// What the state file says about a running container (for a corrald that restarted).
struct SupervisorState {
  pid_t supervisor = -1;
  pid_t leader = -1;
  std::vector<std::string> addresses;
};
std::string FormatSupervisorState(const SupervisorState& state);
// DataLoss unless the file names a supervisor and a leader (both > 0).
absl::StatusOr<SupervisorState> ParseSupervisorState(absl::string_view text);

// One line of the report pipe (without its newline):
//   "ok LEADER [ADDRESS...]"    the container runs; LEADER > 0
//   "phases NAME=US;NAME=US..." where the supervisor's part of the start went
//   "ready"                     a booted systemd inside said READY=1
//   "error MESSAGE"             the start failed
//   "exit STATUS"               the container ended
struct SupervisorReport {
  enum class Kind { kOk, kPhases, kReady, kError, kExit };
  Kind kind = Kind::kReady;
  pid_t leader = 0;                                         // kOk
  std::vector<std::string> addresses;                       // kOk
  std::vector<std::pair<std::string, uint64_t>> phases;     // kPhases
  std::string message;                                      // kError
  int exit_status = 0;                                      // kExit
};
// InvalidArgument for a line that is none of these (corrald ignores it); phase items that do
// not read as NAME=US are skipped.
absl::StatusOr<SupervisorReport> ParseSupervisorReport(absl::string_view line);
std::string FormatSupervisorReport(const SupervisorReport& report);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_WIRE_H_
