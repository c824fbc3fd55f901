// corrald's containers in motion, without any bus: start, stop, kill, exec, remove, set limits,
// the restart policy and OOM watch, and recovery after corrald's restart. Each running
// container has one ContainerRun (container_run.h) whose phase changes only through its
// Transition(); callbacks hold the run (a weak reference), not the container's name. The world
// is reached through interfaces.h: the D-Bus layer (dbus/service.h) reads and authorizes a
// call and hands it here; unit tests drive it with fakes.
//
// A start: the launcher forks the supervisor, the scope manager puts it into
// corral-NAME.scope, the go is sent, and the start is done when the supervisor reports "ok"
// and machined has the machine. A stop: the init's halt signal through the leader's pidfd,
// SIGKILL after the timeout; done when the supervisor exits. Errors carry an ErrorKind
// (dbus/error_kind.h) where the contract has a name for them.
#ifndef CORRAL_DBUS_LIFECYCLE_LIFECYCLE_H_
#define CORRAL_DBUS_LIFECYCLE_LIFECYCLE_H_

#include <systemd/sd-event.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dbus/lifecycle/container_run.h"
#include "dbus/lifecycle/interfaces.h"
#include "dbus/limit_controllers.h"
#include "dbus/limits.h"
#include "dbus/reconcile.h"
#include "dbus/registry.h"
#include "runtime/attach.h"

namespace corral::dbus {

struct LifecycleOptions {
  std::string network_config = "/etc/corral/network.conf";
  std::string volumes_root = "/var/lib/corral/volumes";  // runtime/volume_store.h
  uint32_t default_stop_timeout_seconds = 10;
  // A start that has not reported running by then is failed and cleaned.
  uint32_t start_timeout_seconds = 90;
  // The host's side at RecoverAll and after unclean ends: ReconcileHost (mounts, run
  // directories, stray scopes) and the bridge network's leases. Off in unit tests, which have
  // no host to reconcile (machined's registrations go through the MachineRegistry either way).
  bool reconcile_host = true;
  // What ReconcileHost found (null: ask it, when reconcile_host). Unit tests give the stray
  // scopes a dead corrald left here, so what follows the host's pass runs without a host.
  std::function<ReconcileResult(const ReconcileInput&)> host_reconciler;
  // The cgroup controllers limits can be enforced with (null: this host's, read once).
  std::function<LimitControllers()> limit_controllers;
};

// How long an rm waits for the leases lock another process holds (its caller waits for the
// reply), tried again this often.
inline constexpr uint64_t kRemoveLockWaitUsec = 30 * 1000000;
inline constexpr uint64_t kLockRetryUsec = 50 * 1000;

// machined wants a host name, and corral allows '_': such names are not registered.
inline bool RegistersWithMachined(const std::string& name) { return name.find('_') == std::string::npos; }

// Every property whose value a run's start or end changes.
std::vector<const char*> AllChangingProperties();

class Lifecycle {
 public:
  Lifecycle(sd_event* event, Registry* registry, ScopeManager* scopes, MachineRegistry* machines,
            SupervisorLauncher* launcher, LifecycleObserver* observer, LifecycleOptions options);
  ~Lifecycle();
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  // At corrald's start: every container that runs is adopted, then the host is reconciled.
  void RecoverAll();

  // A new container: `config` (read and validated by the caller) checked against the host
  // (bind sources, volumes), stamped with its creation time and persisted by the registry. A
  // config without a command boots the image's init, as lxc-start does.
  absl::StatusOr<ContainerRecord*> Create(ContainerConfig config);

  // The user's start: a restart waiting for its back-off is this start now. `started` hears
  // when it runs (and machined has it) or why it did not; an error returned means nothing
  // happened and `started` is not called.
  absl::Status Start(ContainerRecord* record, Done started);
  // A stop with `timeout_seconds` (the default when nullopt; 0: SIGKILL at once); `stopped`
  // once the supervisor is gone. A stop during a start aborts the start.
  absl::Status Stop(ContainerRecord* record, std::optional<uint32_t> timeout_seconds, Done stopped);
  // `signal` to the container's init (never restarted by the policy after this).
  absl::Status Kill(ContainerRecord* record, int signal);
  // Starts an exec into the running container (by its supervisor when it can, else here);
  // the caller watches the attach (exec_run.h).
  absl::StatusOr<std::unique_ptr<runtime::AttachInProgress>> StartExec(ContainerRecord* record,
                                                                       runtime::AttachSpec spec);
  // Forgets a stopped container (its address, its files). *busy: the leases lock is held
  // elsewhere; try again (until `deadline_usec`, CLOCK_MONOTONIC, after which it fails).
  absl::Status Remove(const std::string& name, uint64_t deadline_usec, bool* busy);
  // Limits live on a running scope and saved for the next start; `done` hears the end.
  absl::Status SetLimits(ContainerRecord* record, const LimitsChange& change, Done done);

  // The run of `name`, if it has one (tests and the bus layer's exec path).
  const ContainerRun* RunOf(const std::string& name) const;
  const LifecycleOptions& options() const { return options_; }

 private:
  struct OomState;
  friend struct ContainerRun;

  absl::Status CheckStartable(ContainerRecord* record);
  // A start for a caller (`started`, may be null: the restart policy's).
  absl::Status StartRun(ContainerRecord* record, Done started);
  void WatchReport(ContainerRun& run);
  void WatchExit(ContainerRun& run);
  void ArmStartDeadline(ContainerRun& run);
  void ScopeStarted(ContainerRun& run, const absl::Status& status);
  // The one path from an event to the record's State (and PropertiesChanged when it changed).
  absl::Status Apply(ContainerRun& run, RunEvent event);

  void OnReportReadable(ContainerRun& run);
  void OnReportLine(ContainerRun& run, const std::string& line);
  void OnOk(ContainerRun& run, pid_t leader, std::vector<std::string> addresses);
  void MarkRunning(ContainerRun& run, pid_t leader, std::vector<std::string> addresses, RunEvent event);
  void RegisterWithMachined(ContainerRun& run, pid_t leader);
  void StartFailed(ContainerRun& run, const absl::Status& status);
  void AbortStart(ContainerRun& run, const absl::Status& status);
  void BeginStop(ContainerRun& run, uint32_t timeout_seconds);
  void OnSupervisorExit(ContainerRun& run);
  void EndRun(std::shared_ptr<ContainerRun> run, bool reaped, const siginfo_t& info);
  void Recover(ContainerRecord* record);
  void ReconcileAtStart();
  // The bridge network's reconciliation pass judged by what this corrald knows; what it frees
  // goes to the journal, prefixed by `why`.
  void ReclaimNetwork(const std::string& why);
  void RemoveStaleRunFilesOnceEmpty(const std::string& unit);
  absl::Status ReleaseAddress(const std::string& name, uint64_t deadline_usec, bool* busy);
  absl::Status SaveLimits(ContainerRecord* record, const LimitsChange& change, bool applied_live);
  // The host's controllers (read once), and the record's unenforced_limits brought up to date
  // from them (told when they change; a warning in the journal, saying `when`, if any).
  const LimitControllers& HostControllers();
  void NoteUnenforcedLimits(ContainerRecord* record, const char* when);

  // Events and the restart policy (lifecycle_events.cc).
  void RunStarted(ContainerRecord* record, bool recovered);
  void RunEnded(ContainerRecord* record, bool was_running);
  void CheckOom(const std::string& name);
  void MaybeRestart(ContainerRecord* record);
  void ScheduleRestart(ContainerRecord* record, uint64_t delay_usec);
  void RecoverPendingRestart(ContainerRecord* record);  // at RecoverAll, for one that does not run
  void UserStarted(ContainerRecord* record);
  bool CancelRestart(ContainerRecord* record);  // true when one was waiting
  void Changed(const ContainerRecord& record, std::vector<const char*> properties) {
    observer_->PropertiesChanged(record, std::move(properties));
  }

  sd_event* event_;
  Registry* registry_;
  ScopeManager* scopes_;
  MachineRegistry* machines_;
  SupervisorLauncher* launcher_;
  LifecycleObserver* observer_;
  LifecycleOptions options_;
  std::map<std::string, std::shared_ptr<ContainerRun>> runs_;
  std::map<std::string, std::unique_ptr<OomState>> oom_;   // running containers' OOM watches
  std::map<std::string, EventSourcePtr> restart_timers_;  // restarts waiting for their back-off
  bool reclaim_pending_ = false;  // a network reconciliation waits for the leases lock
  std::optional<LimitControllers> controllers_;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIFECYCLE_LIFECYCLE_H_
