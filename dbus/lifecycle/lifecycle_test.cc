// The lifecycle driven through fakes of its interfaces, without a bus and without root: the
// "supervisor" is a forked child of this test that waits for the go and then for a signal, and
// the test writes its report lines itself. Start, a failed start, a stop during the start, the
// start deadline, stop, kill, the restart policy, corrald's restart (adoption), removal.
#include "dbus/lifecycle/lifecycle.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/syscalls.h"
#include "dbus/error_kind.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

// A child standing in for a supervisor: exits 1 when the go pipe closes unread (as the real
// one does when corrald gives up), else waits; SIGTERM makes it exit 0 (its container's clean
// end), SIGKILL kills it.
pid_t ForkFakeSupervisor(int go_read, bool wait_for_go) {
  // SIGTERM blocked across the fork, so one sent right away waits for the child's handler.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, &old);
  pid_t pid = ::fork();
  if (pid != 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return pid;
  }
  ::signal(SIGTERM, [](int) { ::_exit(0); });
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Only the go pipe's read end stays (as ForkSupervisor's close_range does), so a closed go
  // reads as EOF here.
  for (int fd = 3; fd < 1024; ++fd) {
    if (fd != go_read) ::close(fd);
  }
  if (wait_for_go) {
    char byte;
    if (::read(go_read, &byte, 1) != 1) ::_exit(1);
  }
  for (;;) ::pause();
}

struct FakeScopes : ScopeManager {
  std::vector<ScopeSpec> started;
  std::vector<Done> pending;  // the jobs: the test says when they are done
  std::vector<std::string> killed;
  std::vector<std::vector<std::pair<std::string, uint64_t>>> set;
  bool has_processes = false;
  bool frozen = false;
  void StartScope(const ScopeSpec& spec, Done done) override {
    started.push_back(spec);
    pending.push_back(std::move(done));
  }
  void KillAndStopScope(const std::string& unit) override { killed.push_back(unit); }
  void SetUnitProperties(const std::string&, const std::vector<std::pair<std::string, uint64_t>>& properties,
                         Done done) override {
    set.push_back(properties);
    done(absl::OkStatus());
  }
  bool ScopeHasProcesses(const std::string&) override { return has_processes; }
  bool ScopeIsFrozen(const std::string&) override { return frozen; }
  void Finish(absl::Status status) {
    ASSERT_FALSE(pending.empty());
    Done done = std::move(pending.front());
    pending.erase(pending.begin());
    done(status);
  }
};

struct FakeMachines : MachineRegistry {
  std::vector<std::string> registered, unregistered;
  void RegisterMachine(const std::string& name, pid_t, const std::string&, Done done) override {
    registered.push_back(name);
    done(absl::OkStatus());
  }
  void UnregisterMachine(const std::string& name) override { unregistered.push_back(name); }
  void UnregisterMachinesExcept(std::set<std::string>, std::function<void(const std::string&)>) override {}
  std::map<std::string, MachineLeader> missing;  // what RegisterMissingMachines was asked
  void RegisterMissingMachines(std::map<std::string, MachineLeader> running,
                               std::function<void(const std::string&, absl::Status)>) override {
    missing = std::move(running);
  }
};

struct FakeLauncher : SupervisorLauncher {
  struct Child {
    pid_t pid = 0;
    UniqueFd report_write;  // what the test writes as the supervisor
  };
  std::map<std::string, Child> children;  // the last one launched or adopted, by name
  std::map<std::string, bool> adoptable;  // names Adopt finds running
  std::vector<std::pair<bool, bool>> cleanups;  // (clean, remove_run_dir)
  int exit_status = -1;
  int launches = 0;
  absl::Status launch_error = absl::OkStatus();

  absl::StatusOr<SupervisorHandle> Launch(const ContainerRecord& record) override {
    if (!launch_error.ok()) return launch_error;
    int go[2], report[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    SupervisorHandle handle;
    handle.pid = ForkFakeSupervisor(go[0], true);
    ::close(go[0]);
    handle.pidfd.reset(sys::PidfdOpen(handle.pid, 0));
    handle.go.reset(go[1]);
    handle.report.reset(report[0]);
    children[record.config.name] = {handle.pid, UniqueFd(report[1])};
    ++launches;
    return handle;
  }
  absl::StatusOr<AdoptedSupervisor> Adopt(const ContainerRecord& record) override {
    if (!adoptable[record.config.name]) return absl::NotFoundError("not running");
    AdoptedSupervisor adopted;
    adopted.pid = ForkFakeSupervisor(-1, false);
    adopted.pidfd.reset(sys::PidfdOpen(adopted.pid, 0));
    adopted.leader = adopted.pid;
    adopted.addresses = {"10.77.0.9/16"};
    children[record.config.name] = {adopted.pid, UniqueFd()};
    return adopted;
  }
  void CleanUpAfter(const ContainerRecord&, bool clean, bool remove_run_dir) override {
    cleanups.emplace_back(clean, remove_run_dir);
  }
  int ExitStatusOf(const ContainerRecord&) override { return exit_status; }
};

struct FakeObserver : LifecycleObserver {
  std::vector<std::string> states;  // State at each change that includes it
  std::vector<std::string> removing;
  std::vector<std::string> changed;
  void PropertiesChanged(const ContainerRecord& record, std::vector<const char*> properties) override {
    for (const char* p : properties) {
      changed.push_back(p);
      if (std::string(p) == "State") states.emplace_back(ContainerStateName(record.state));
    }
  }
  void Removing(const ContainerRecord& record) override { removing.push_back(record.config.name); }
};

// What a Done heard.
struct Heard {
  std::optional<absl::Status> status;
  Done done() {
    return [this](absl::Status s) { status = std::move(s); };
  }
};

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-lifecycle-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    paths_ = {dir_ + "/lib/containers", dir_ + "/run/containers", dir_ + "/lib/images"};
    ASSERT_TRUE(MakeDirectories(paths_.images_root + "/busybox/rootfs", 0755).ok());
    paths_.idmap_config = dir_ + "/idmap.conf";
    ASSERT_TRUE(WriteFileAtomically(paths_.idmap_config, "range = 1048576 131072\nstate_dir = " + dir_ +
                                                             "/lib/idmap\nsubuid =\nsubgid =\n")
                    .ok());
    ASSERT_EQ(sd_event_new(&event_), 0);
    registry_ = std::make_unique<Registry>(paths_);
    NewLifecycle();
  }
  void TearDown() override {
    lifecycle_.reset();
    for (auto& [name, child] : launcher_.children) {
      ::kill(child.pid, SIGKILL);
      ::waitpid(child.pid, nullptr, 0);  // those the lifecycle reaped already: ECHILD
    }
    sd_event_unref(event_);
    RemoveTree(dir_).IgnoreError();
  }
  void NewLifecycle(uint32_t start_timeout = 30) {
    LifecycleOptions options;
    options.reconcile_host = false;
    options.start_timeout_seconds = start_timeout;
    options.default_stop_timeout_seconds = 5;
    lifecycle_ = std::make_unique<Lifecycle>(event_, registry_.get(), &scopes_, &machines_, &launcher_, &observer_,
                                             options);
  }
  ContainerRecord* Create(const std::string& name, const std::string& restart = "no") {
    ContainerConfig c;
    c.name = name;
    c.image = "busybox";
    c.command = {"/bin/sleep", "1000"};
    c.restart = restart;
    absl::StatusOr<ContainerRecord*> created = lifecycle_->Create(c);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : nullptr;
  }
  // Runs the loop until `done` or 5 s.
  bool RunUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      sd_event_run(event_, 50 * 1000);
    }
    return true;
  }
  void Say(const std::string& name, const std::string& line) {
    std::string text = line + "\n";
    ASSERT_EQ(::write(launcher_.children[name].report_write.get(), text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
  }
  pid_t Pid(const std::string& name) { return launcher_.children[name].pid; }
  // Start to running: scope done, the supervisor's phases and ok.
  void StartToRunning(ContainerRecord* record, Heard* heard) {
    const std::string& name = record->config.name;
    ASSERT_TRUE(lifecycle_->Start(record, heard->done()).ok());
    scopes_.Finish(absl::OkStatus());
    Say(name, "phases overlay rootfs=10;clone=20");
    Say(name, absl::StrCat("ok ", Pid(name), " 10.77.0.2/16"));
    ASSERT_TRUE(RunUntil([&] { return heard->status.has_value(); }));
    ASSERT_TRUE(heard->status->ok()) << *heard->status;
  }

  std::string dir_;
  RegistryPaths paths_;
  sd_event* event_ = nullptr;
  std::unique_ptr<Registry> registry_;
  FakeScopes scopes_;
  FakeMachines machines_;
  FakeLauncher launcher_;
  FakeObserver observer_;
  std::unique_ptr<Lifecycle> lifecycle_;
};

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
