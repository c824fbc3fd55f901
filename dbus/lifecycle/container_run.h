// One run of a container, from its start (or its adoption after corrald's restart) to its
// supervisor's exit: the supervisor's pidfd, the go pipe, the report pipe and its event
// source, the leader's pidfd, the calls waiting for the start or the stop, and the run's
// phase. The phase changes in one place, Transition(), which refuses a move the table below
// does not have (runc's transition(), systemd's machine_get_state()); the container's
// State property derives from it (StateOf).
//
//   phase      event             next       (anything else is refused)
//   new        StartRequested    launched   supervisor forked, its scope asked for
//   new        Recovered         running    found again after corrald's restart
//   launched   ScopeReady        preparing  go sent: the supervisor prepares and starts
//   launched,  SupervisorOk      running    (preparing only) it reported "ok"
//   preparing  StartFailed       failing    its callers told; the supervisor is on its way out
//   launched,  StopRequested     stopping   a stop during the start aborts it
//   preparing,
//   failing,
//   running,
//   stopping
//   failing,   StartFailed       (same)     a second failure of a start already failed
//   stopping
//   any but    SupervisorExited  exited     the run is over
//   new/exited
#ifndef CORRAL_DBUS_LIFECYCLE_CONTAINER_RUN_H_
#define CORRAL_DBUS_LIFECYCLE_CONTAINER_RUN_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"
#include "dbus/bus_ptr.h"
#include "dbus/lifecycle/interfaces.h"
#include "dbus/registry.h"
#include "runtime/phase_timer.h"

namespace corral::dbus {

enum class RunPhase { kNew, kLaunched, kPreparing, kFailing, kRunning, kStopping, kExited };
enum class RunEvent { kStartRequested, kRecovered, kScopeReady, kSupervisorOk, kStartFailed, kStopRequested, kSupervisorExited };

absl::string_view RunPhaseName(RunPhase phase);
absl::string_view RunEventName(RunEvent event);

// The table above: the phase after `event` in `phase`, FailedPrecondition when it is refused.
absl::StatusOr<RunPhase> NextPhase(RunPhase phase, RunEvent event);

// The container's State as the bus shows it.
ContainerState StateOf(RunPhase phase);

class Lifecycle;

struct ContainerRun {
  ContainerRun(Lifecycle* lifecycle, ContainerRecord* record) : lifecycle(lifecycle), record(record) {}
  ContainerRun(const ContainerRun&) = delete;
  ContainerRun& operator=(const ContainerRun&) = delete;

  // The one place the phase changes; refuses what NextPhase refuses (the phase stays).
  absl::Status Transition(RunEvent event);
  RunPhase phase() const { return phase_; }
  bool starting() const { return phase_ == RunPhase::kLaunched || phase_ == RunPhase::kPreparing; }

  Lifecycle* const lifecycle;
  ContainerRecord* const record;  // the registry keeps it while the run exists (rm needs stopped)

  pid_t supervisor = 0;
  UniqueFd supervisor_pidfd;
  UniqueFd go;      // held until systemd has the supervisor in the scope
  UniqueFd report;  // the supervisor's report lines (absent after a corrald restart)
  std::string report_buffer;
  UniqueFd leader_pidfd;
  UniqueFd payload_cgroup;  // where execs go (CLONE_INTO_CGROUP); opened once per run
  UniqueFd exec_requests;   // execs the supervisor starts (absent after a corrald restart)
  EventSourcePtr report_source;
  EventSourcePtr exit_source;
  EventSourcePtr stop_timer;
  EventSourcePtr start_deadline;  // fails the start when it fires
  std::vector<Done> waiting_start;
  std::vector<Done> waiting_stop;
  // Callers of a start that failed: answered with start_error once the supervisor is gone and
  // the state is stopped again, so none of them can see "starting" after its error.
  std::vector<Done> failed_start_callers;
  absl::Status start_error;
  bool start_failed = false;  // its run directory goes when the supervisor is gone
  bool recovered = false;     // adopted after corrald's restart
  int reported_exit = -1;     // the supervisor's "exit" line
  // This start's phases as corrald sees them (fork, scope, supervisor), and the supervisor's
  // own breakdown of its part (its "phases" report line), in microseconds.
  runtime::PhaseTimer start_timer;
  std::vector<std::pair<std::string, uint64_t>> supervisor_phases;

 private:
  RunPhase phase_ = RunPhase::kNew;
};

// corrald's phases with the supervisor's part broken down by the supervisor's own report, the
// rest of that part (its wait for the scope's go, reading the report) as "supervisor report".
std::vector<std::pair<std::string, uint64_t>> StartPhases(const ContainerRun& run);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIFECYCLE_CONTAINER_RUN_H_
