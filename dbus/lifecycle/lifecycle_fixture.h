// The lifecycle's fakes and test fixture (lifecycle_test.cc, lifecycle_restart_test.cc): a forked
// child standing in for each supervisor, fakes of the scope manager, machined and the observer.
#ifndef CORRAL_DBUS_LIFECYCLE_LIFECYCLE_FIXTURE_H_
#define CORRAL_DBUS_LIFECYCLE_LIFECYCLE_FIXTURE_H_

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/syscalls.h"
#include "dbus/error_kind.h"
#include "dbus/lifecycle/lifecycle.h"
#include "dbus/test_registry_paths.h"
#include "gtest/gtest.h"

namespace corral::dbus {

// A child standing in for a supervisor: exits 1 when the go pipe closes unread (as the real
// one does when corrald gives up), else waits; SIGTERM makes it exit 0 (its container's clean
// end), SIGKILL kills it.
inline pid_t ForkFakeSupervisor(int go_read, bool wait_for_go) {
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
    MakeTestRegistryPaths(dir_, &paths_);
    if (HasFatalFailure()) return;
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
    options.limit_controllers = [this] { return host_controllers_; };
    options.host_reconciler = host_reconciler_;
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
  LimitControllers host_controllers_{{"memory", "pids", "cpu"}, "all of them (a test)"};
  std::function<ReconcileResult(const ReconcileInput&)> host_reconciler_;  // null: no host pass
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIFECYCLE_LIFECYCLE_FIXTURE_H_
