// The supervisor's report to corrald: one line per message on the report pipe (fd 4 in the
// supervisor), written by the supervisor, read by corrald's lifecycle. One Format/Parse pair
// per message; a line corrald cannot parse is an error, never a guess.
//
//   message  line                          when                                 corrald then
//   phases   phases NAME=US;NAME=US...     once, right before ok                the StartPhases breakdown
//   ok       ok LEADER [ADDRESS...]        the container runs (state file in)   running, machined registration
//   ready    ready                         a booted init said READY=1           the Ready property
//   error    error MESSAGE                 the start failed (nothing is left)   the start's callers get MESSAGE
//   exit     exit STATUS                   the container exited, cleaned up     the exit status (the exit-status
//                                                                               file wins when it is there)
//
// LEADER is in corrald's PID namespace (> 0); ADDRESS is "10.77.0.2/16"; US are microseconds;
// a phase NAME has neither ';' nor '=' and MESSAGE no newline (Format replaces them). A phases
// item that is not NAME=US is skipped.
#ifndef CORRAL_DBUS_SUPERVISOR_PROTOCOL_H_
#define CORRAL_DBUS_SUPERVISOR_PROTOCOL_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::dbus {

struct PhasesReport {
  std::vector<std::pair<std::string, uint64_t>> phases;  // name, microseconds, in order
};
struct OkReport {
  pid_t leader = 0;
  std::vector<std::string> addresses;
};
struct ReadyReport {};
struct ErrorReport {
  std::string message;
};
struct ExitReport {
  int status = 0;
};
using Report = std::variant<PhasesReport, OkReport, ReadyReport, ErrorReport, ExitReport>;

// Each without the trailing newline.
std::string FormatReport(const PhasesReport& report);
std::string FormatReport(const OkReport& report);
std::string FormatReport(const ReadyReport& report);
std::string FormatReport(const ErrorReport& report);
std::string FormatReport(const ExitReport& report);
std::string FormatReport(const Report& report);  // whichever it holds

absl::StatusOr<PhasesReport> ParsePhasesReport(absl::string_view line);
absl::StatusOr<OkReport> ParseOkReport(absl::string_view line);
absl::StatusOr<ReadyReport> ParseReadyReport(absl::string_view line);
absl::StatusOr<ErrorReport> ParseErrorReport(absl::string_view line);
absl::StatusOr<ExitReport> ParseExitReport(absl::string_view line);

// Any one line (without its newline), by its first word. InvalidArgument for an unknown
// message or a malformed one.
absl::StatusOr<Report> ParseReport(absl::string_view line);

// Splits complete lines off the front of `buffer` (what the pipe gave so far); a partial last
// line stays for the next read.
std::vector<std::string> TakeReportLines(std::string* buffer);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_PROTOCOL_H_
