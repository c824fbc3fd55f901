// The lifecycle driven through fakes of its interfaces, without a bus and without root: the
// "supervisor" is a forked child of this test that waits for the go and then for a signal, and
// the test writes its report lines itself. Start, a failed start, a stop during the start, the
// start deadline, stop, kill, the restart policy, corrald's restart (adoption), removal.
#include "dbus/lifecycle/lifecycle_fixture.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "dbus/error_kind.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

TEST_F(LifecycleTest, StartRunsOnceTheScopeIsThereAndTheSupervisorSaysOk) {
  ContainerRecord* record = Create("web");
  Heard started;
  ASSERT_TRUE(lifecycle_->Start(record, started.done()).ok());
  EXPECT_EQ(record->state, ContainerState::kStarting);
  ASSERT_EQ(scopes_.started.size(), 1u);
  EXPECT_EQ(scopes_.started[0].unit, "corral-web.scope");
  EXPECT_EQ(scopes_.started[0].pid, Pid("web"));
  EXPECT_FALSE(scopes_.started[0].device_allow.empty());  // always a closed device policy
  EXPECT_NE(record->config.uid_base, 0u);  // its own uid range, given at the start
  // "ok" before the scope's go is no start: refused by the phase table, the state unchanged.
  Say("web", absl::StrCat("ok ", Pid("web")));
  for (int i = 0; i < 5; ++i) sd_event_run(event_, 20 * 1000);
  EXPECT_EQ(record->state, ContainerState::kStarting);
  EXPECT_FALSE(started.status.has_value());

  scopes_.Finish(absl::OkStatus());
  Say("web", "phases overlay rootfs=10;clone=20");
  Say("web", absl::StrCat("ok ", Pid("web"), " 10.77.0.2/16"));
  ASSERT_TRUE(RunUntil([&] { return started.status.has_value(); }));
  ASSERT_TRUE(started.status->ok()) << *started.status;
  EXPECT_EQ(record->state, ContainerState::kRunning);
  EXPECT_EQ(record->leader, Pid("web"));
  EXPECT_EQ(record->addresses, std::vector<std::string>{"10.77.0.2/16"});
  EXPECT_EQ(machines_.registered, std::vector<std::string>{"web"});
  std::vector<std::string> phases;
  for (const auto& [phase, us] : record->start_phases) phases.push_back(phase);
  EXPECT_EQ(phases, (std::vector<std::string>{"fork supervisor", "scope", "overlay rootfs", "clone",
                                              "supervisor report", "machined registration"}));
  EXPECT_EQ(observer_.states, (std::vector<std::string>{"starting", "running"}));
  Say("web", "ready");
  ASSERT_TRUE(RunUntil([&] { return record->ready; }));
  // A second start is refused, by kind.
  absl::Status again = lifecycle_->Start(record, nullptr);
  EXPECT_EQ(ErrorKindOf(again), ErrorKind::kAlreadyRunning) << again;
}

TEST_F(LifecycleTest, AScopeThatFailsFailsTheStartAndCleansUp) {
  ContainerRecord* record = Create("web");
  Heard started;
  ASSERT_TRUE(lifecycle_->Start(record, started.done()).ok());
  scopes_.Finish(absl::InternalError("job failed"));
  // Its callers hear the error once the state is stopped again, never while it says starting.
  EXPECT_FALSE(started.status.has_value());
  EXPECT_EQ(record->state, ContainerState::kStarting);
  // The go pipe closed: the fake supervisor exits 1 and the run ends.
  ASSERT_TRUE(RunUntil([&] { return record->state == ContainerState::kStopped; }));
  ASSERT_TRUE(started.status.has_value());
  EXPECT_EQ(started.status->message(), "job failed");
  EXPECT_EQ(lifecycle_->RunOf("web"), nullptr);
  ASSERT_EQ(launcher_.cleanups.size(), 1u);
  EXPECT_FALSE(launcher_.cleanups[0].first);  // exit status 1: not clean
  EXPECT_TRUE(launcher_.cleanups[0].second);  // a failed start's run directory goes
  EXPECT_EQ(scopes_.killed, std::vector<std::string>{"corral-web.scope"});
  EXPECT_TRUE(machines_.registered.empty());
  EXPECT_TRUE(machines_.unregistered.empty());
  EXPECT_EQ(observer_.states, (std::vector<std::string>{"starting", "stopped"}));
}

TEST_F(LifecycleTest, TheSupervisorsErrorFailsTheStart) {
  ContainerRecord* record = Create("web");
  Heard started;
  ASSERT_TRUE(lifecycle_->Start(record, started.done()).ok());
  scopes_.Finish(absl::OkStatus());
  Say("web", "error mount the overlay rootfs: Permission denied");
  for (int i = 0; i < 5; ++i) sd_event_run(event_, 20 * 1000);
  EXPECT_EQ(record->state, ContainerState::kStarting);  // until its supervisor is gone
  EXPECT_FALSE(started.status.has_value());
  ::kill(Pid("web"), SIGTERM);
  ASSERT_TRUE(RunUntil([&] { return record->state == ContainerState::kStopped; }));
  ASSERT_TRUE(started.status.has_value());
  EXPECT_EQ(started.status->message(), "start container web: mount the overlay rootfs: Permission denied");
  ASSERT_EQ(launcher_.cleanups.size(), 1u);
  EXPECT_TRUE(launcher_.cleanups[0].second);
}

TEST_F(LifecycleTest, AStopDuringTheStartCancelsIt) {
  ContainerRecord* record = Create("web");
  Heard started, stopped;
  ASSERT_TRUE(lifecycle_->Start(record, started.done()).ok());
  ASSERT_TRUE(lifecycle_->Stop(record, std::nullopt, stopped.done()).ok());
  EXPECT_EQ(record->state, ContainerState::kStopping);
  ASSERT_TRUE(RunUntil([&] { return stopped.status.has_value(); }));
  ASSERT_TRUE(started.status.has_value());
  EXPECT_TRUE(absl::IsCancelled(*started.status)) << *started.status;
  EXPECT_TRUE(stopped.status->ok());
  EXPECT_EQ(record->state, ContainerState::kStopped);
  // The scope's job ends after the run did: nothing is let go, nothing breaks.
  scopes_.Finish(absl::OkStatus());
  EXPECT_EQ(record->state, ContainerState::kStopped);
  EXPECT_EQ(observer_.states, (std::vector<std::string>{"starting", "stopping", "stopped"}));
  EXPECT_EQ(launcher_.launches, 1);  // stopped by the user: no restart
}

TEST_F(LifecycleTest, AStartNothingAnswersFailsAtItsDeadline) {
  NewLifecycle(/*start_timeout=*/1);
  ContainerRecord* record = Create("web");
  Heard started;
  ASSERT_TRUE(lifecycle_->Start(record, started.done()).ok());
  ASSERT_TRUE(RunUntil([&] { return started.status.has_value(); }));
  EXPECT_TRUE(absl::IsDeadlineExceeded(*started.status)) << *started.status;
  ASSERT_TRUE(RunUntil([&] { return record->state == ContainerState::kStopped; }));
}

TEST_F(LifecycleTest, StopAsksTheInitAndIsDoneWhenTheSupervisorIsGone) {
  ContainerRecord* record = Create("web");
  Heard started, stopped;
  StartToRunning(record, &started);
  ASSERT_TRUE(lifecycle_->Stop(record, std::nullopt, stopped.done()).ok());
  EXPECT_EQ(record->state, ContainerState::kStopping);
  // A second stop joins the first.
  Heard also;
  ASSERT_TRUE(lifecycle_->Stop(record, std::nullopt, also.done()).ok());
  ASSERT_TRUE(RunUntil([&] { return stopped.status.has_value() && also.status.has_value(); }));
  EXPECT_TRUE(stopped.status->ok());
  EXPECT_EQ(record->state, ContainerState::kStopped);
  EXPECT_EQ(record->leader, 0);
  EXPECT_TRUE(record->addresses.empty());
  EXPECT_NE(record->finished_at_usec, 0);
  EXPECT_EQ(machines_.unregistered, std::vector<std::string>{"web"});
  ASSERT_EQ(launcher_.cleanups.size(), 1u);
  EXPECT_TRUE(launcher_.cleanups[0].first);  // SIGTERM: the fake exits 0, a clean end
  EXPECT_TRUE(scopes_.killed.empty());
  absl::Status again = lifecycle_->Stop(record, std::nullopt, nullptr);
  EXPECT_EQ(ErrorKindOf(again), ErrorKind::kNotRunning) << again;
}

TEST_F(LifecycleTest, AStopOfAnInitStoppedBySigstopIsNotKeptWaitingForTheTimeout) {
  ContainerRecord* record = Create("web");
  Heard started, stopped;
  StartToRunning(record, &started);
  ASSERT_TRUE(lifecycle_->Kill(record, SIGSTOP).ok());
  // The stop timeout (5 s here) is RunUntil's deadline: only a SIGCONT with the SIGTERM ends it
  // sooner, and then cleanly (the fake exits 0 on SIGTERM; the timer's SIGKILL is unclean).
  ASSERT_TRUE(lifecycle_->Stop(record, std::nullopt, stopped.done()).ok());
  ASSERT_TRUE(RunUntil([&] { return stopped.status.has_value(); }));
  EXPECT_TRUE(stopped.status->ok()) << *stopped.status;
  ASSERT_EQ(launcher_.cleanups.size(), 1u);
  EXPECT_TRUE(launcher_.cleanups[0].first);
}

TEST_F(LifecycleTest, KillSignalsTheInitAndAnUncleanEndStopsTheScope) {
  ContainerRecord* record = Create("web", "always");
  EXPECT_EQ(ErrorKindOf(lifecycle_->Kill(record, SIGKILL)), ErrorKind::kNotRunning);
  Heard started;
  StartToRunning(record, &started);
  EXPECT_EQ(ErrorKindOf(lifecycle_->Kill(record, 0)), ErrorKind::kInvalidArgument);
  EXPECT_EQ(ErrorKindOf(lifecycle_->Kill(record, 100)), ErrorKind::kInvalidArgument);
  ASSERT_TRUE(lifecycle_->Kill(record, SIGKILL).ok());
  ASSERT_TRUE(RunUntil([&] { return record->state == ContainerState::kStopped; }));
  EXPECT_EQ(scopes_.killed, std::vector<std::string>{"corral-web.scope"});
  ASSERT_EQ(launcher_.cleanups.size(), 1u);
  EXPECT_FALSE(launcher_.cleanups[0].first);
  EXPECT_FALSE(launcher_.cleanups[0].second);  // it ran: its run directory stays
  // Killed by the user: never restarted, even with --restart always.
  for (int i = 0; i < 10; ++i) sd_event_run(event_, 50 * 1000);
  EXPECT_EQ(launcher_.launches, 1);
}

TEST_F(LifecycleTest, TheRestartPolicyStartsAFailedContainerAgain) {
  ContainerRecord* record = Create("web", "on-failure");
  Heard started;
  StartToRunning(record, &started);
  launcher_.exit_status = 3;  // what its exit-status file says
  pid_t first = Pid("web");
  ::kill(first, SIGTERM);  // the container's own end, not the user's stop
  ASSERT_TRUE(RunUntil([&] { return launcher_.launches == 2; }));  // after 100 ms of back-off
  EXPECT_EQ(record->exit_status, 3);
  EXPECT_EQ(record->restart_count, 1u);
  EXPECT_EQ(record->state, ContainerState::kStarting);
  EXPECT_NE(Pid("web"), first);
  scopes_.Finish(absl::OkStatus());
  Say("web", absl::StrCat("ok ", Pid("web")));
  ASSERT_TRUE(RunUntil([&] { return record->state == ContainerState::kRunning; }));
  // The user's stop ends it for good.
  Heard stopped;
  ASSERT_TRUE(lifecycle_->Stop(record, 0, stopped.done()).ok());  // timeout 0: SIGKILL
  ASSERT_TRUE(RunUntil([&] { return stopped.status.has_value(); }));
  for (int i = 0; i < 6; ++i) sd_event_run(event_, 50 * 1000);
  EXPECT_EQ(launcher_.launches, 2);
}

TEST_F(LifecycleTest, ACorraldRestartAdoptsRunningContainersAndCanStopThem) {
  ContainerRecord* web = Create("web");
  ContainerRecord* db = Create("db");
  launcher_.adoptable["web"] = true;
  lifecycle_->RecoverAll();
  EXPECT_EQ(web->state, ContainerState::kRunning);
  EXPECT_EQ(web->leader, Pid("web"));
  ASSERT_EQ(machines_.missing.count("web"), 1u);  // registered again if machined lost it
  EXPECT_EQ(machines_.missing["web"].leader, Pid("web"));
  EXPECT_EQ(machines_.missing.count("db"), 0u);
  EXPECT_EQ(web->addresses, std::vector<std::string>{"10.77.0.9/16"});
  EXPECT_NE(web->started_at_usec, 0);
  EXPECT_EQ(db->state, ContainerState::kStopped);
  EXPECT_EQ(lifecycle_->RunOf("db"), nullptr);
  ASSERT_NE(lifecycle_->RunOf("web"), nullptr);
  EXPECT_TRUE(lifecycle_->RunOf("web")->recovered);
  Heard stopped;
  ASSERT_TRUE(lifecycle_->Stop(web, std::nullopt, stopped.done()).ok());
  ASSERT_TRUE(RunUntil([&] { return stopped.status.has_value(); }));
  EXPECT_EQ(web->state, ContainerState::kStopped);
  EXPECT_EQ(machines_.unregistered, std::vector<std::string>{"web"});
}

TEST_F(LifecycleTest, AnAdoptedContainerThatEndsIsStopped) {
  ContainerRecord* web = Create("web");
  launcher_.adoptable["web"] = true;
  lifecycle_->RecoverAll();
  ASSERT_EQ(web->state, ContainerState::kRunning);
  ::kill(Pid("web"), SIGKILL);
  ASSERT_TRUE(RunUntil([&] { return web->state == ContainerState::kStopped; }));
  EXPECT_EQ(scopes_.killed, std::vector<std::string>{"corral-web.scope"});
  // And it starts again as any stopped container does.
  Heard started;
  StartToRunning(web, &started);
  EXPECT_EQ(web->state, ContainerState::kRunning);
}

TEST_F(LifecycleTest, RefusalsNameTheirKindAndChangeNothing) {
  ContainerRecord* record = Create("web");
  scopes_.has_processes = true;  // a scope of that name with someone else's processes
  absl::Status refused = lifecycle_->Start(record, nullptr);
  EXPECT_EQ(ErrorKindOf(refused), ErrorKind::kAlreadyRunning) << refused;
  EXPECT_EQ(launcher_.launches, 0);
  EXPECT_EQ(record->state, ContainerState::kStopped);
  scopes_.has_processes = false;
  launcher_.launch_error = absl::InternalError("fork the supervisor: EAGAIN");
  EXPECT_FALSE(lifecycle_->Start(record, nullptr).ok());
  EXPECT_EQ(record->state, ContainerState::kStopped);
  EXPECT_EQ(lifecycle_->RunOf("web"), nullptr);
}

TEST_F(LifecycleTest, CreateChecksTheHostAndStampsTheTime) {
  ContainerRecord* web = Create("web");
  EXPECT_GT(web->config.created_usec, 0);
  EXPECT_FALSE(web->config.boot);
  ContainerConfig booted;
  booted.name = "booted";
  booted.image = "busybox";
  absl::StatusOr<ContainerRecord*> created = lifecycle_->Create(booted);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE((*created)->config.boot);  // no command: the image's init
  ContainerConfig bad = booted;
  bad.name = "bad";
  bad.binds = {"/nonexistent-corral-lifecycle-test:/x"};
  EXPECT_FALSE(lifecycle_->Create(bad).ok());
  EXPECT_EQ(registry_->Find("bad"), nullptr);
  EXPECT_FALSE(lifecycle_->Create(booted).ok());  // the name is taken
}

TEST_F(LifecycleTest, RemoveForgetsOnlyAStoppedContainer) {
  ContainerRecord* record = Create("web");
  bool busy = false;
  EXPECT_EQ(ErrorKindOf(lifecycle_->Remove("nope", 0, &busy)), ErrorKind::kNoSuchContainer);
  Heard started;
  StartToRunning(record, &started);
  EXPECT_EQ(ErrorKindOf(lifecycle_->Remove("web", 0, &busy)), ErrorKind::kAlreadyRunning);
  Heard stopped;
  ASSERT_TRUE(lifecycle_->Stop(record, std::nullopt, stopped.done()).ok());
  ASSERT_TRUE(RunUntil([&] { return stopped.status.has_value(); }));
  scopes_.has_processes = true;  // still emptying
  EXPECT_EQ(ErrorKindOf(lifecycle_->Remove("web", 0, &busy)), ErrorKind::kAlreadyRunning);
  EXPECT_NE(registry_->Find("web"), nullptr);
  scopes_.has_processes = false;
  ASSERT_TRUE(lifecycle_->Remove("web", 0, &busy).ok());
  EXPECT_FALSE(busy);
  EXPECT_EQ(observer_.removing, std::vector<std::string>{"web"});
  EXPECT_EQ(registry_->Find("web"), nullptr);
}

TEST_F(LifecycleTest, LimitsOfAStoppedContainerAreSavedAndOfARunningOneAppliedLive) {
  ContainerRecord* record = Create("web");
  LimitsChange change;
  change.memory_bytes = 64 << 20;
  Heard saved;
  ASSERT_TRUE(lifecycle_->SetLimits(record, change, saved.done()).ok());
  ASSERT_TRUE(saved.status.has_value() && saved.status->ok());
  EXPECT_EQ(record->config.memory_bytes, uint64_t{64} << 20);
  EXPECT_TRUE(scopes_.set.empty());
  Heard started;
  StartToRunning(record, &started);
  EXPECT_EQ(scopes_.started.back().memory_max, uint64_t{64} << 20);
  change.memory_bytes = 32 << 20;
  Heard live;
  ASSERT_TRUE(lifecycle_->SetLimits(record, change, live.done()).ok());
  ASSERT_TRUE(live.status.has_value() && live.status->ok());
  ASSERT_EQ(scopes_.set.size(), 1u);
  EXPECT_EQ(record->config.memory_bytes, uint64_t{32} << 20);
}

}  // namespace
}  // namespace corral::dbus
