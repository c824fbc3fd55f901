// The restart policy across corrald's restarts (a restart waiting for its back-off is done by
// the next corrald, with the count it had; a stop calls it off for good), and limits a host's
// cgroups cannot enforce (refused by SetLimits, said at create), driven through the
// lifecycle's fakes (lifecycle_fixture.h), without a bus.
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "dbus/error_kind.h"
#include "dbus/lifecycle/lifecycle_fixture.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

class LifecycleRestartTest : public LifecycleTest {
 protected:
  // corrald dies (kill -9, systemctl restart) and a new one reads the registry back and
  // recovers: the records are new ones, the run directories and files what the last one left.
  ContainerRecord* RestartCorrald(const std::string& name) {
    lifecycle_.reset();
    registry_ = std::make_unique<Registry>(paths_);
    std::vector<std::string> problems;
    EXPECT_TRUE(registry_->Load(&problems).ok());
    NewLifecycle();
    lifecycle_->RecoverAll();
    return registry_->Find(name);
  }
  // Its first run fails (exit 3, its own end) and the policy's restart waits for its back-off.
  void FailFirstRun(ContainerRecord* record) {
    Heard started;
    StartToRunning(record, &started);
    launcher_.exit_status = 3;
    ::kill(Pid(record->config.name), SIGTERM);
    ASSERT_TRUE(RunUntil([&] { return record->restart_count == 1; }));
    ASSERT_EQ(record->state, ContainerState::kStopped);  // 100 ms of back-off before it starts again
    ASSERT_EQ(launcher_.launches, 1);
  }
  std::string PendingFile(const std::string& name) { return paths_.lib_root + "/" + name + "/restart-pending"; }
};

TEST_F(LifecycleRestartTest, ARestartWaitingForItsBackOffIsDoneByTheNextCorrald) {
  ContainerRecord* record = Create("web", "on-failure:3");
  FailFirstRun(record);
  EXPECT_TRUE(ReadFile(PendingFile("web")).ok());  // its due time, on disk
  record = RestartCorrald("web");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->restart_count, 1u);  // the count it had, so on-failure:3 still means 3
  ASSERT_TRUE(RunUntil([&] { return launcher_.launches == 2; }));
  EXPECT_EQ(record->state, ContainerState::kStarting);
  EXPECT_FALSE(ReadFile(PendingFile("web")).ok());  // under way: nothing waits any more
  scopes_.Finish(absl::OkStatus());
  Say("web", absl::StrCat("ok ", Pid("web")));
  ASSERT_TRUE(RunUntil([&] { return record->state == ContainerState::kRunning; }));
  // And the next corrald restarts nothing more: it adopts the running one.
  launcher_.adoptable["web"] = true;
  record = RestartCorrald("web");
  for (int i = 0; i < 6; ++i) sd_event_run(event_, 50 * 1000);
  EXPECT_EQ(launcher_.launches, 2);
  EXPECT_EQ(record->state, ContainerState::kRunning);
  EXPECT_EQ(record->restart_count, 1u);
}

// kill -9 of corrald with a start in flight: the next corrald finds the container's scope still
// populated with no supervisor it can adopt and kills it; the state file (and console socket)
// the dying supervisor wrote meanwhile are removed once the scope is empty, and not before, so
// the container does not read as running from files (faults_test.sh found one left behind).
TEST_F(LifecycleRestartTest, AStrayScopesStaleRunFilesAreRemovedOnceTheScopeIsEmpty) {
  ContainerRecord* record = Create("ghost");
  ASSERT_NE(record, nullptr);
  const std::string state = record->paths.state(), console = record->paths.console_socket();
  ASSERT_TRUE(MakeDirectories(record->paths.run_dir).ok());
  ASSERT_TRUE(WriteFileAtomically(state, "running 4242\n").ok());
  ASSERT_TRUE(WriteFileAtomically(console, "").ok());
  host_reconciler_ = [](const ReconcileInput& input) {
    ReconcileResult found;
    if (input.known.count("ghost") && !input.running.count("ghost")) found.stray_scopes.push_back("corral-ghost.scope");
    return found;
  };
  scopes_.has_processes = true;  // the kill has not landed yet
  record = RestartCorrald("ghost");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(scopes_.killed, std::vector<std::string>{"corral-ghost.scope"});
  for (int i = 0; i < 6; ++i) sd_event_run(event_, 50 * 1000);  // three of its 100 ms checks
  EXPECT_TRUE(ReadFile(state).ok()) << "removed while the scope still had processes";
  scopes_.has_processes = false;  // the kill landed
  EXPECT_TRUE(RunUntil([&] { return !ReadFile(state).ok(); })) << state << " outlived its scope";
  EXPECT_FALSE(ReadFile(console).ok());
  EXPECT_EQ(record->state, ContainerState::kStopped);
}

TEST_F(LifecycleRestartTest, AStopDuringTheBackOffCallsItOffAcrossCorraldRestarts) {
  ContainerRecord* record = Create("web", "always");
  FailFirstRun(record);
  record = RestartCorrald("web");
  ASSERT_NE(record, nullptr);
  Heard stopped;
  ASSERT_TRUE(lifecycle_->Stop(record, std::nullopt, stopped.done()).ok());  // during the recovered back-off
  ASSERT_TRUE(stopped.status.has_value() && stopped.status->ok());
  EXPECT_FALSE(ReadFile(PendingFile("web")).ok());
  for (int i = 0; i < 6; ++i) sd_event_run(event_, 50 * 1000);
  record = RestartCorrald("web");
  for (int i = 0; i < 6; ++i) sd_event_run(event_, 50 * 1000);
  EXPECT_EQ(launcher_.launches, 1);
  EXPECT_EQ(record->state, ContainerState::kStopped);
}

TEST_F(LifecycleRestartTest, APendingRestartOfAContainerWithoutAPolicyIsDropped) {
  ContainerRecord* record = Create("web");  // restart no
  ASSERT_TRUE(WriteFileAtomically(PendingFile("web"), "0\n").ok());  // left by some older corrald
  record = RestartCorrald("web");
  for (int i = 0; i < 6; ++i) sd_event_run(event_, 50 * 1000);
  EXPECT_EQ(launcher_.launches, 0);
  EXPECT_EQ(record->state, ContainerState::kStopped);
  EXPECT_FALSE(ReadFile(PendingFile("web")).ok());
}

TEST_F(LifecycleTest, ALimitWithoutItsControllerIsRefusedByNameAndSaidAtCreate) {
  host_controllers_ = {{"cpu"}, "cgroup2 at /sys/fs/cgroup offers \"cpu\""};  // no memory, no pids
  NewLifecycle();
  ContainerConfig c;
  c.name = "web";
  c.image = "busybox";
  c.command = {"/bin/sleep", "1000"};
  c.memory_bytes = 64 << 20;
  absl::StatusOr<ContainerRecord*> created = lifecycle_->Create(c);
  ASSERT_TRUE(created.ok()) << created.status();  // a config may outlive its host: kept, and said
  ContainerRecord* record = *created;
  EXPECT_EQ(record->unenforced_limits, std::vector<std::string>{"Memory: no memory controller"});
  EXPECT_NE(std::find(observer_.changed.begin(), observer_.changed.end(), "UnenforcedLimits"), observer_.changed.end());
  LimitsChange tasks;
  tasks.tasks = 20;
  Heard stopped_set;
  absl::Status refused = lifecycle_->SetLimits(record, tasks, stopped_set.done());
  EXPECT_EQ(ErrorKindOf(refused), ErrorKind::kFailed) << refused;
  EXPECT_NE(refused.message().find("cannot enforce Tasks: this host's cgroups have no pids controller"),
            absl::string_view::npos)
      << refused;
  EXPECT_FALSE(stopped_set.status.has_value());
  EXPECT_EQ(record->config.tasks, 0u);

  Heard started;
  StartToRunning(record, &started);
  LimitsChange memory;
  memory.memory_bytes = 32 << 20;
  Heard running_set;
  refused = lifecycle_->SetLimits(record, memory, running_set.done());
  EXPECT_NE(refused.message().find("no memory controller"), absl::string_view::npos) << refused;
  EXPECT_TRUE(scopes_.set.empty());  // systemd was never asked
  EXPECT_EQ(record->config.memory_bytes, uint64_t{64} << 20);
  // What it has (cpu) is set; a limit removed (0) needs nothing and clears what was not in force.
  LimitsChange allowed;
  allowed.cpu_weight = 200;
  allowed.memory_bytes = 0;
  Heard set;
  ASSERT_TRUE(lifecycle_->SetLimits(record, allowed, set.done()).ok());
  ASSERT_TRUE(set.status.has_value() && set.status->ok()) << set.status.value_or(absl::OkStatus());
  EXPECT_EQ(scopes_.set.size(), 1u);
  EXPECT_EQ(record->config.cpu_weight, 200u);
  EXPECT_TRUE(record->unenforced_limits.empty());
}

}  // namespace
}  // namespace corral::dbus
