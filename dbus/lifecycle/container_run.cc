#include "dbus/lifecycle/container_run.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace corral::dbus {

absl::string_view RunPhaseName(RunPhase phase) {
  switch (phase) {
    case RunPhase::kNew: return "new";
    case RunPhase::kLaunched: return "launched";
    case RunPhase::kPreparing: return "preparing";
    case RunPhase::kFailing: return "failing";
    case RunPhase::kRunning: return "running";
    case RunPhase::kStopping: return "stopping";
    case RunPhase::kExited: return "exited";
  }
  return "?";
}

absl::string_view RunEventName(RunEvent event) {
  switch (event) {
    case RunEvent::kStartRequested: return "StartRequested";
    case RunEvent::kRecovered: return "Recovered";
    case RunEvent::kScopeReady: return "ScopeReady";
    case RunEvent::kSupervisorOk: return "SupervisorOk";
    case RunEvent::kStartFailed: return "StartFailed";
    case RunEvent::kStopRequested: return "StopRequested";
    case RunEvent::kSupervisorExited: return "SupervisorExited";
  }
  return "?";
}

absl::StatusOr<RunPhase> NextPhase(RunPhase phase, RunEvent event) {
  using P = RunPhase;
  const bool live = phase != P::kNew && phase != P::kExited;
  switch (event) {
    case RunEvent::kStartRequested:
      if (phase == P::kNew) return P::kLaunched;
      break;
    case RunEvent::kRecovered:
      if (phase == P::kNew) return P::kRunning;
      break;
    case RunEvent::kScopeReady:
      if (phase == P::kLaunched) return P::kPreparing;
      break;
    case RunEvent::kSupervisorOk:
      if (phase == P::kPreparing) return P::kRunning;
      break;
    case RunEvent::kStartFailed:
      if (phase == P::kLaunched || phase == P::kPreparing) return P::kFailing;
      if (phase == P::kFailing || phase == P::kStopping) return phase;
      break;
    case RunEvent::kStopRequested:
      if (live) return P::kStopping;
      break;
    case RunEvent::kSupervisorExited:
      if (live) return P::kExited;
      break;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("a run in phase ", RunPhaseName(phase), " cannot take ", RunEventName(event)));
}

ContainerState StateOf(RunPhase phase) {
  switch (phase) {
    case RunPhase::kLaunched:
    case RunPhase::kPreparing:
    case RunPhase::kFailing:
      return ContainerState::kStarting;
    case RunPhase::kRunning:
      return ContainerState::kRunning;
    case RunPhase::kStopping:
      return ContainerState::kStopping;
    case RunPhase::kNew:
    case RunPhase::kExited:
      return ContainerState::kStopped;
  }
  return ContainerState::kStopped;
}

absl::Status ContainerRun::Transition(RunEvent event) {
  absl::StatusOr<RunPhase> next = NextPhase(phase_, event);
  if (!next.ok()) return next.status();
  phase_ = *next;
  return absl::OkStatus();
}

std::vector<std::pair<std::string, uint64_t>> StartPhases(const ContainerRun& run) {
  std::vector<std::pair<std::string, uint64_t>> phases;
  for (const auto& [phase, ns] : run.start_timer.phases()) {
    uint64_t us = static_cast<uint64_t>(ns) / 1000;
    if (phase != runtime::Phase::kSupervisor || run.supervisor_phases.empty()) {
      phases.emplace_back(std::string(runtime::PhaseName(phase)), us);
      continue;
    }
    // The supervisor's phases up to "wait for go" ran while corrald waited for the scope (they
    // overlap "scope", listed before them); only those after it make up corrald's "supervisor".
    const std::string wait_for_go(runtime::PhaseName(runtime::Phase::kWaitForGo));
    bool in_scope = std::none_of(run.supervisor_phases.begin(), run.supervisor_phases.end(),
                                 [&](const auto& p) { return p.first == wait_for_go; });
    uint64_t reported = 0;
    for (const auto& supervisor_phase : run.supervisor_phases) {
      phases.push_back(supervisor_phase);
      if (in_scope) reported += supervisor_phase.second;
      if (supervisor_phase.first == wait_for_go) in_scope = true;
    }
    phases.emplace_back(std::string(runtime::PhaseName(runtime::Phase::kSupervisorReport)), us > reported ? us - reported : 0);
  }
  return phases;
}

}  // namespace corral::dbus
