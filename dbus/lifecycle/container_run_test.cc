// The run's phase table: every (phase, event) pair, what State each phase shows, and the start
// phases' breakdown. Pure.
#include "dbus/lifecycle/container_run.h"

#include <unistd.h>

#include <map>
#include <utility>

#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

constexpr RunPhase kPhases[] = {RunPhase::kNew,     RunPhase::kLaunched, RunPhase::kPreparing, RunPhase::kFailing,
                                RunPhase::kRunning, RunPhase::kStopping, RunPhase::kExited};
constexpr RunEvent kEvents[] = {RunEvent::kStartRequested, RunEvent::kRecovered,     RunEvent::kScopeReady,
                                RunEvent::kSupervisorOk,   RunEvent::kStartFailed,   RunEvent::kStopRequested,
                                RunEvent::kSupervisorExited};

TEST(ContainerRunTest, TheTableIsExactlyThis) {
  using P = RunPhase;
  using E = RunEvent;
  const std::map<std::pair<P, E>, P> legal = {
      {{P::kNew, E::kStartRequested}, P::kLaunched},
      {{P::kNew, E::kRecovered}, P::kRunning},
      {{P::kLaunched, E::kScopeReady}, P::kPreparing},
      {{P::kPreparing, E::kSupervisorOk}, P::kRunning},
      {{P::kLaunched, E::kStartFailed}, P::kFailing},
      {{P::kPreparing, E::kStartFailed}, P::kFailing},
      {{P::kFailing, E::kStartFailed}, P::kFailing},
      {{P::kStopping, E::kStartFailed}, P::kStopping},
      {{P::kLaunched, E::kStopRequested}, P::kStopping},
      {{P::kPreparing, E::kStopRequested}, P::kStopping},
      {{P::kFailing, E::kStopRequested}, P::kStopping},
      {{P::kRunning, E::kStopRequested}, P::kStopping},
      {{P::kStopping, E::kStopRequested}, P::kStopping},
      {{P::kLaunched, E::kSupervisorExited}, P::kExited},
      {{P::kPreparing, E::kSupervisorExited}, P::kExited},
      {{P::kFailing, E::kSupervisorExited}, P::kExited},
      {{P::kRunning, E::kSupervisorExited}, P::kExited},
      {{P::kStopping, E::kSupervisorExited}, P::kExited},
  };
  int refused = 0;
  for (P phase : kPhases) {
    for (E event : kEvents) {
      absl::StatusOr<P> next = NextPhase(phase, event);
      auto it = legal.find({phase, event});
      if (it == legal.end()) {
        EXPECT_TRUE(absl::IsFailedPrecondition(next.status()))
            << RunPhaseName(phase) << " + " << RunEventName(event) << " must be refused";
        ++refused;
      } else {
        ASSERT_TRUE(next.ok()) << RunPhaseName(phase) << " + " << RunEventName(event) << ": " << next.status();
        EXPECT_EQ(*next, it->second) << RunPhaseName(phase) << " + " << RunEventName(event);
      }
    }
  }
  EXPECT_EQ(refused, 7 * 7 - static_cast<int>(legal.size()));
}

TEST(ContainerRunTest, TransitionRefusesAndKeepsThePhase) {
  ContainerRecord record;
  ContainerRun run(nullptr, &record);
  EXPECT_EQ(run.phase(), RunPhase::kNew);
  EXPECT_FALSE(run.Transition(RunEvent::kSupervisorOk).ok());  // "ok" before any start
  EXPECT_EQ(run.phase(), RunPhase::kNew);
  ASSERT_TRUE(run.Transition(RunEvent::kStartRequested).ok());
  EXPECT_TRUE(run.starting());
  absl::Status refused = run.Transition(RunEvent::kSupervisorOk);  // "ok" before the scope's go
  EXPECT_TRUE(absl::IsFailedPrecondition(refused));
  EXPECT_NE(refused.message().find("launched"), std::string::npos) << refused;
  EXPECT_EQ(run.phase(), RunPhase::kLaunched);
  ASSERT_TRUE(run.Transition(RunEvent::kScopeReady).ok());
  ASSERT_TRUE(run.Transition(RunEvent::kSupervisorOk).ok());
  EXPECT_EQ(run.phase(), RunPhase::kRunning);
  EXPECT_FALSE(run.Transition(RunEvent::kStartFailed).ok());  // an "error" after "ok" is no failed start
  ASSERT_TRUE(run.Transition(RunEvent::kSupervisorExited).ok());
  for (RunEvent event : kEvents) EXPECT_FALSE(run.Transition(event).ok()) << RunEventName(event);
  EXPECT_EQ(run.phase(), RunPhase::kExited);
}

TEST(ContainerRunTest, StateDerivesFromThePhase) {
  EXPECT_EQ(StateOf(RunPhase::kNew), ContainerState::kStopped);
  EXPECT_EQ(StateOf(RunPhase::kLaunched), ContainerState::kStarting);
  EXPECT_EQ(StateOf(RunPhase::kPreparing), ContainerState::kStarting);
  EXPECT_EQ(StateOf(RunPhase::kFailing), ContainerState::kStarting);
  EXPECT_EQ(StateOf(RunPhase::kRunning), ContainerState::kRunning);
  EXPECT_EQ(StateOf(RunPhase::kStopping), ContainerState::kStopping);
  EXPECT_EQ(StateOf(RunPhase::kExited), ContainerState::kStopped);
}

TEST(ContainerRunTest, StartPhasesBreakTheSupervisorDown) {
  ContainerRecord record;
  ContainerRun run(nullptr, &record);
  run.start_timer.Mark(runtime::Phase::kForkSupervisor);
  run.start_timer.Mark(runtime::Phase::kScope);
  run.start_timer.Mark(runtime::Phase::kSupervisor);
  run.supervisor_phases = {{"overlay rootfs", 0}, {"clone", 0}};
  std::vector<std::pair<std::string, uint64_t>> phases = StartPhases(run);
  ASSERT_EQ(phases.size(), 5u);
  EXPECT_EQ(phases[0].first, "fork supervisor");
  EXPECT_EQ(phases[1].first, "scope");
  EXPECT_EQ(phases[2].first, "overlay rootfs");
  EXPECT_EQ(phases[3].first, "clone");
  EXPECT_EQ(phases[4].first, "supervisor report");
  // Phases up to "wait for go" overlap the scope's: they are listed, not taken from the
  // supervisor's span (at least 2 ms here, of which 30 us are the phases after the go).
  run.start_timer = runtime::PhaseTimer();
  run.start_timer.Mark(runtime::Phase::kForkSupervisor);
  run.start_timer.Mark(runtime::Phase::kScope);
  ::usleep(2000);
  run.start_timer.Mark(runtime::Phase::kSupervisor);
  const uint64_t span = static_cast<uint64_t>(run.start_timer.phases()[2].second) / 1000;
  run.supervisor_phases = {{"overlay rootfs", 500}, {"wait for go", 9000}, {"clone", 30}};
  phases = StartPhases(run);
  ASSERT_EQ(phases.size(), 6u);
  EXPECT_EQ(phases[2].first, "overlay rootfs");
  EXPECT_EQ(phases[3].first, "wait for go");
  EXPECT_EQ(phases[4].first, "clone");
  EXPECT_EQ(phases[5].first, "supervisor report");
  EXPECT_EQ(phases[5].second, span - 30);
  // Without the supervisor's breakdown its part stays one phase.
  run.supervisor_phases.clear();
  phases = StartPhases(run);
  ASSERT_EQ(phases.size(), 3u);
  EXPECT_EQ(phases[2].first, "supervisor");
}

}  // namespace
}  // namespace corral::dbus
