#include "dbus/lifecycle/lifecycle.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/syscalls.h"
#include "dbus/error_kind.h"
#include "dbus/image_defaults.h"
#include "dbus/journal_log.h"
#include "dbus/lifecycle/init_kind.h"
#include "dbus/storage_options.h"
#include "dbus/supervisor/exec.h"
#include "dbus/supervisor/protocol.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/devices.h"

namespace corral::dbus {
namespace {

// The scope's DeviceAllow= entries: the default allow-list and the container's Devices.
std::vector<std::pair<std::string, std::string>> ScopeDeviceAllow(const ContainerConfig& config) {
  std::vector<runtime::DeviceSpec> devices;
  for (const std::string& text : config.devices) {
    absl::StatusOr<runtime::DeviceSpec> device = runtime::ParseDeviceSpecText(text);
    if (device.ok()) devices.push_back(*device);  // a stored config was validated when loaded
  }
  return runtime::SystemdDeviceAllow(devices);
}

ScopeSpec ScopeFor(const ContainerRecord& record, pid_t supervisor) {
  ScopeSpec scope;
  scope.unit = record.unit();
  scope.description = absl::StrCat("corral container ", record.config.name);
  scope.pid = supervisor;
  scope.memory_max = record.config.memory_bytes;
  scope.tasks_max = record.config.tasks;
  scope.cpu_weight = record.config.cpu_weight;
  scope.cpu_quota_per_sec_usec = record.config.cpu_quota_percent * 10000;
  scope.device_allow = ScopeDeviceAllow(record.config);
  return scope;
}

// The cgroup2 directory of a process, for attaching into its cgroup (CLONE_INTO_CGROUP).
absl::StatusOr<UniqueFd> OpenCgroupOf(pid_t pid) {
  absl::StatusOr<std::string> dir = runtime::Cgroup2DirectoryOf(pid);
  if (!dir.ok()) return dir.status();
  UniqueFd fd(::open(dir->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(absl::StrCat("open ", *dir));
  return fd;
}

void CallAll(std::vector<Done>* callers, const absl::Status& status) {
  std::vector<Done> now = std::move(*callers);
  callers->clear();
  for (Done& done : now) {
    if (done) done(status);
  }
}

}  // namespace

std::vector<const char*> AllChangingProperties() {
  return {"State", "Leader", "Addresses", "ExitStatus", "OOMKilled", "OOMKills", "StartedAt", "FinishedAt", "RestartCount"};
}

const ContainerRun* Lifecycle::RunOf(const std::string& name) const {
  auto it = runs_.find(name);
  return it == runs_.end() ? nullptr : it->second.get();
}

absl::Status Lifecycle::Apply(ContainerRun& run, RunEvent event) {
  absl::Status moved = run.Transition(event);
  if (!moved.ok()) return moved;
  ContainerState state = StateOf(run.phase());
  if (run.record->state != state) {
    run.record->state = state;
    Changed(*run.record, AllChangingProperties());
  }
  return absl::OkStatus();
}

// ---- create, start ----

absl::StatusOr<ContainerRecord*> Lifecycle::Create(ContainerConfig config) {
  // Held until the config is on disk, so `image rm` cannot collect what it is about to use.
  absl::StatusOr<std::optional<FileLock>> store = HoldImageStore(registry_->paths().images_root, config.image);
  if (!store.ok()) return store.status();
  // An OCI image's layers and defaults (Entrypoint, Cmd, Env, ...): dbus/image_defaults.h.
  if (absl::Status image = ApplyImageDefaults(registry_->paths().images_root, &config); !image.ok()) return image;
  if (config.command.empty()) config.boot = true;
  if (absl::Status storage = CheckStorageOnHost(config, options_.volumes_root); !storage.ok()) return storage;
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  config.created_usec = int64_t{now.tv_sec} * 1000000 + now.tv_nsec / 1000;
  absl::StatusOr<ContainerRecord*> created = registry_->Create(std::move(config));
  // Created all the same, as a config may outlive the host it was made on (docker warns and
  // runs too); the warning and the UnenforcedLimits property say which limits are not in force.
  if (created.ok()) NoteUnenforcedLimits(*created, "created");
  return created;
}

absl::Status Lifecycle::Start(ContainerRecord* record, Done started) {
  if (record->state == ContainerState::kStopped) UserStarted(record);
  return StartRun(record, std::move(started));
}

absl::Status Lifecycle::CheckStartable(ContainerRecord* record) {
  const std::string& name = record->config.name;
  if (record->state == ContainerState::kBroken) {
    return InvalidArgumentKindError(
        absl::StrCat("container ", name, " is broken (", record->problem, "); remove it with rm"));
  }
  if (record->state != ContainerState::kStopped || runs_.count(name)) {
    return AlreadyRunningError(absl::StrCat("container ", name, " is ", ContainerStateName(record->state), " already"));
  }
  // The scope of the last run may still be loaded for a moment after a stop (systemd collects
  // it once it notices it is empty); the scope manager then stops it and starts anew. A scope
  // of that name with processes in it is no such leftover: refuse rather than stop it.
  if (scopes_->ScopeHasProcesses(record->unit())) {
    return AlreadyRunningError(absl::StrCat("the scope ", record->unit(),
                                            " exists and has processes that are not container ", name,
                                            "'s (left by an earlier corrald?); stop it first: systemctl stop ",
                                            record->unit()));
  }
  // The container's uid range is still its own in the pool; one created before corral gave
  // containers their own range gets one now.
  if (!record->config.privileged) {
    const uint32_t before = record->config.uid_base;
    if (absl::Status ids = registry_->EnsureIdRange(record); !ids.ok()) return ids;
    if (record->config.uid_base != before) Changed(*record, {"UIDRange"});
  }
  return absl::OkStatus();
}

absl::Status Lifecycle::StartRun(ContainerRecord* record, Done started) {
  if (absl::Status startable = CheckStartable(record); !startable.ok()) return startable;
  NoteUnenforcedLimits(record, "starts");
  runtime::PhaseTimer timer;
  absl::StatusOr<SupervisorHandle> forked = launcher_->Launch(*record);
  if (!forked.ok()) return forked.status();
  timer.Mark(runtime::Phase::kForkSupervisor);
  auto run = std::make_shared<ContainerRun>(this, record);
  run->start_timer = std::move(timer);
  run->supervisor = forked->pid;
  run->supervisor_pidfd = std::move(forked->pidfd);
  run->go = std::move(forked->go);
  run->report = std::move(forked->report);
  run->exec_requests = std::move(forked->exec_requests);
  // Non-blocking: OnSupervisorExit drains it, and must not wait on it.
  ::fcntl(run->report.get(), F_SETFL, O_NONBLOCK);
  if (started) run->waiting_start.push_back(std::move(started));
  WatchReport(*run);
  WatchExit(*run);
  runs_[record->config.name] = run;
  Apply(*run, RunEvent::kStartRequested).IgnoreError();  // new -> launched: always legal
  ArmStartDeadline(*run);
  std::weak_ptr<ContainerRun> weak = run;
  scopes_->StartScope(ScopeFor(*record, run->supervisor), [weak](absl::Status status) {
    // Gone, or cancelled by now: its go belongs to no scope any more.
    if (std::shared_ptr<ContainerRun> live = weak.lock()) live->lifecycle->ScopeStarted(*live, status);
  });
  return absl::OkStatus();
}

void Lifecycle::WatchReport(ContainerRun& run) {
  sd_event_source* source = nullptr;
  sd_event_add_io(
      event_, &source, run.report.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        auto* r = static_cast<ContainerRun*>(data);
        r->lifecycle->OnReportReadable(*r);
        return 0;
      },
      &run);
  run.report_source.reset(source);
}

// The supervisor's exit ends the container's run, whoever started it (this corrald or the
// one before a restart).
void Lifecycle::WatchExit(ContainerRun& run) {
  sd_event_source* source = nullptr;
  sd_event_add_io(
      event_, &source, run.supervisor_pidfd.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        auto* r = static_cast<ContainerRun*>(data);
        r->lifecycle->OnSupervisorExit(*r);
        return 0;
      },
      &run);
  run.exit_source.reset(source);
}

// A start nothing answers (a hung job, a supervisor stuck on a lock or a mount) is failed and
// cleaned after the deadline, like a unit's TimeoutStartSec=; its container never runs.
void Lifecycle::ArmStartDeadline(ContainerRun& run) {
  sd_event_source* source = nullptr;
  sd_event_add_time_relative(
      event_, &source, CLOCK_MONOTONIC, uint64_t{options_.start_timeout_seconds} * 1000000, 0,
      [](sd_event_source*, uint64_t, void* data) -> int {
        auto* r = static_cast<ContainerRun*>(data);
        const std::string& name = r->record->config.name;
        r->lifecycle->AbortStart(*r, absl::DeadlineExceededError(absl::StrCat(
                                         "container ", name, " did not start within ",
                                         r->lifecycle->options_.start_timeout_seconds, " s; the start was stopped")));
        return 0;
      },
      &run);
  run.start_deadline.reset(source);
}

void Lifecycle::ScopeStarted(ContainerRun& run, const absl::Status& status) {
  // Aborted meanwhile (the table refuses ScopeReady then): nothing to let go.
  if (!NextPhase(run.phase(), RunEvent::kScopeReady).ok()) return;
  if (!status.ok()) {
    StartFailed(run, status);
    return;
  }
  run.start_timer.Mark(runtime::Phase::kScope);
  Apply(run, RunEvent::kScopeReady).IgnoreError();  // launched -> preparing
  char go = 1;
  if (::write(run.go.get(), &go, 1) != 1) {
    run.go.reset();
    StartFailed(run, ErrnoError("let the supervisor go"));
    return;
  }
  run.go.reset();
}

void Lifecycle::StartFailed(ContainerRun& run, const absl::Status& status) {
  if (!Apply(run, RunEvent::kStartFailed).ok()) return;  // it ran, or its end is told already
  run.start_failed = true;
  if (run.start_error.ok()) run.start_error = status;
  for (Done& done : run.waiting_start) run.failed_start_callers.push_back(std::move(done));
  run.waiting_start.clear();
  // Closing `go` makes a waiting supervisor exit; one that got further cleans up after itself
  // and exits. Either way its exit moves the state to stopped.
  run.go.reset();
  const std::string& name = run.record->config.name;
  LogMessage(kPriorityErr, absl::StrCat("start of ", name, " failed: ", status.message()),
             {{"CORRAL_CONTAINER", name}, {"CORRAL_EVENT", "start-failed"}});
}

void Lifecycle::AbortStart(ContainerRun& run, const absl::Status& status) {
  run.start_deadline.reset();
  StartFailed(run, status);
  // Wherever it is (waiting for the go, preparing, holding a half-started container): its
  // container dies with it (PR_SET_PDEATHSIG) and OnSupervisorExit undoes the rest.
  sys::PidfdSendSignal(run.supervisor_pidfd.get(), SIGKILL, nullptr, 0);
}

// ---- the supervisor's report ----

void Lifecycle::OnReportReadable(ContainerRun& run) {
  char buffer[1024];
  ssize_t n = ::read(run.report.get(), buffer, sizeof(buffer));
  if (n < 0 && errno == EAGAIN) return;  // the pipe is non-blocking: nothing more for now
  if (n <= 0) {
    // EOF: the supervisor is gone or going; its pidfd says when.
    run.report_source.reset();
    return;
  }
  run.report_buffer.append(buffer, n);
  for (const std::string& line : TakeReportLines(&run.report_buffer)) OnReportLine(run, line);
}

void Lifecycle::OnReportLine(ContainerRun& run, const std::string& line) {
  absl::StatusOr<Report> report = ParseReport(line);
  const std::string& name = run.record->config.name;
  if (!report.ok()) {
    LogMessage(kPriorityWarning, absl::StrCat(name, ": ", report.status().message()), {{"CORRAL_CONTAINER", name}});
    return;
  }
  if (auto* ok = std::get_if<OkReport>(&*report)) {
    OnOk(run, ok->leader, std::move(ok->addresses));
  } else if (auto* phases = std::get_if<PhasesReport>(&*report)) {
    run.supervisor_phases = std::move(phases->phases);
  } else if (std::holds_alternative<ReadyReport>(*report)) {
    run.record->ready = true;
    Changed(*run.record, {"Ready"});
  } else if (auto* error = std::get_if<ErrorReport>(&*report)) {
    StartFailed(run, absl::InternalError(absl::StrCat("start container ", name, ": ", error->message)));
  } else if (auto* exit = std::get_if<ExitReport>(&*report)) {
    run.reported_exit = exit->status;
  }
}

void Lifecycle::OnOk(ContainerRun& run, pid_t leader, std::vector<std::string> addresses) {
  // Asked of the phase table before the run's fields change (MarkRunning applies the move).
  if (!NextPhase(run.phase(), RunEvent::kSupervisorOk).ok()) {
    // Before the scope's go, or a start aborted meanwhile (its supervisor is being killed): it
    // never counts as running.
    LogMessage(kPriorityNotice,
               absl::StrCat(run.record->config.name, ": supervisor reported ok in phase ", RunPhaseName(run.phase()),
                            "; ignored"),
               {{"CORRAL_CONTAINER", run.record->config.name}});
    return;
  }
  run.start_timer.Mark(runtime::Phase::kSupervisor);
  run.start_deadline.reset();
  run.record->start_phases = StartPhases(run);
  MarkRunning(run, leader, std::move(addresses), RunEvent::kSupervisorOk);
  RegisterWithMachined(run, leader);
}

void Lifecycle::MarkRunning(ContainerRun& run, pid_t leader, std::vector<std::string> addresses, RunEvent event) {
  run.leader_pidfd.reset(sys::PidfdOpen(leader, 0));
  ContainerRecord* record = run.record;
  record->leader = leader;
  record->addresses = std::move(addresses);
  RunStarted(record, run.recovered);
  Apply(run, event).IgnoreError();  // its State changes, and with it every property of the run is told
}

// The callers hear "running" once machinectl can see it too.
void Lifecycle::RegisterWithMachined(ContainerRun& run, pid_t leader) {
  const std::string name = run.record->config.name;
  const bool registers = RegistersWithMachined(name);
  std::weak_ptr<ContainerRun> weak = runs_[name];
  auto reply = [weak, registers, since = runtime::PhaseTimer::NowNs(),
                callers = std::move(run.waiting_start)](absl::Status registered) mutable {
    if (!registered.ok()) ::fprintf(stderr, "corrald: %s\n", std::string(registered.message()).c_str());
    if (std::shared_ptr<ContainerRun> live = weak.lock(); live != nullptr && registers) {
      live->record->start_phases.emplace_back(runtime::PhaseName(runtime::Phase::kMachinedRegistration),
                                              (runtime::PhaseTimer::NowNs() - since) / 1000);
    }
    CallAll(&callers, absl::OkStatus());
  };
  run.waiting_start.clear();
  if (!registers) {
    reply(absl::OkStatus());
    return;
  }
  machines_->RegisterMachine(name, leader, run.record->paths.rootfs(), std::move(reply));
}

// ---- stop, kill, exec ----

absl::Status Lifecycle::Stop(ContainerRecord* record, std::optional<uint32_t> timeout_seconds, Done stopped) {
  const std::string& name = record->config.name;
  // Never restarted after this; a restart waiting for its back-off is called off (and the stop
  // is done: the container is stopped).
  record->stopped_by_user = true;
  if (CancelRestart(record) && record->state == ContainerState::kStopped) {
    if (stopped) stopped(absl::OkStatus());
    return absl::OkStatus();
  }
  auto it = runs_.find(name);
  if (it == runs_.end() || it->second->phase() == RunPhase::kExited) {
    return NotRunningError(absl::StrCat("container ", name, " is ", ContainerStateName(record->state)));
  }
  ContainerRun& run = *it->second;
  const RunPhase before = run.phase();
  if (stopped) run.waiting_stop.push_back(std::move(stopped));
  if (before == RunPhase::kStopping) return absl::OkStatus();  // joins the stop under way
  Apply(run, RunEvent::kStopRequested).IgnoreError();  // legal from every live phase
  if (before == RunPhase::kRunning) {
    BeginStop(run, timeout_seconds.value_or(options_.default_stop_timeout_seconds));
  } else {
    // A stop cancels a start under way; it is done when the supervisor is gone.
    AbortStart(run, absl::CancelledError(absl::StrCat("the start of container ", name, " was cancelled by a stop")));
  }
  return absl::OkStatus();
}

void Lifecycle::BeginStop(ContainerRun& run, uint32_t timeout_seconds) {
  const ContainerConfig& config = run.record->config;
  int halt = timeout_seconds == 0       ? SIGKILL
             : config.stop_signal != 0 ? config.stop_signal  // an OCI image's StopSignal
                                        : HaltSignal(ContainerInit(config));
  sys::PidfdSendSignal(run.leader_pidfd.get(), halt, nullptr, 0);
  if (halt == SIGKILL) return;
  // An init stopped by a `kill NAME SIGSTOP` would keep the halt signal pending and sit out the
  // whole timeout: continued at once, as systemd sends SIGCONT after a unit's KillSignal.
  sys::PidfdSendSignal(run.leader_pidfd.get(), SIGCONT, nullptr, 0);
  // Killing PID 1 of the container's PID namespace takes every process in it along.
  sd_event_source* source = nullptr;
  sd_event_add_time_relative(
      event_, &source, CLOCK_MONOTONIC, uint64_t{timeout_seconds} * 1000000, 0,
      [](sd_event_source*, uint64_t, void* data) -> int {
        auto* r = static_cast<ContainerRun*>(data);
        sys::PidfdSendSignal(r->leader_pidfd.get(), SIGKILL, nullptr, 0);
        return 0;
      },
      &run);
  run.stop_timer.reset(source);
}

absl::Status Lifecycle::Kill(ContainerRecord* record, int signal) {
  const std::string& name = record->config.name;
  if (signal < 1 || signal > SIGRTMAX) {
    return InvalidArgumentKindError(absl::StrCat("signal ", signal, " does not exist"));
  }
  auto it = runs_.find(name);
  if (it == runs_.end() || !it->second->leader_pidfd.valid()) {
    return NotRunningError(absl::StrCat("container ", name, " is not running"));
  }
  record->stopped_by_user = true;  // what the user kills is not restarted by the policy
  if (sys::PidfdSendSignal(it->second->leader_pidfd.get(), signal, nullptr, 0) != 0) {
    return ErrnoError(absl::StrCat("signal container ", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<runtime::AttachInProgress>> Lifecycle::StartExec(ContainerRecord* record,
                                                                              runtime::AttachSpec spec) {
  const std::string& name = record->config.name;
  auto it = runs_.find(name);
  if (record->state != ContainerState::kRunning || it == runs_.end()) {
    return NotRunningError(absl::StrCat("container ", name, " is not running"));
  }
  ContainerRun& run = *it->second;
  if (!run.payload_cgroup.valid()) {
    absl::StatusOr<UniqueFd> cgroup = OpenCgroupOf(record->leader);
    if (cgroup.ok()) run.payload_cgroup = std::move(*cgroup);
  }
  spec.cgroup_fd = run.payload_cgroup.get();
  // A frozen scope (cgroup2's freezer from outside: `systemctl freeze`, the scope's
  // cgroup.freeze) would freeze the exec's helper the moment it enters: refused at once, by
  // name, instead of failing after the exec's start timeout. A container that froze its own
  // payload (its delegated cgroup.freeze) gets that timeout, never the loop stuck (and never a
  // host fd: exec_escape_test).
  if (scopes_->ScopeIsFrozen(record->unit())) {
    return NotRunningError(absl::StrCat("container ", name,
                                        " is frozen: nothing can be executed in it until it is thawed "
                                        "(systemctl thaw ",
                                        record->unit(), ")"));
  }
  // Never waits: the helper reports on a socket the loop watches. The supervisor starts it when
  // it can (no cgroup moves: supervisor/exec.h); else we do.
  absl::StatusOr<std::unique_ptr<runtime::AttachInProgress>> attach =
      RequestExecFromSupervisor(run.exec_requests.get(), spec);
  if (!attach.ok()) attach = runtime::AttachInProgress::Start(run.leader_pidfd.get(), spec);
  return attach;
}

// ---- the end of a run ----

void Lifecycle::OnSupervisorExit(ContainerRun& run) {
  // Its last report lines (an "error" of a failed start) may still be in the pipe: the pidfd
  // and the pipe became ready together and the loop dispatched the pidfd first.
  if (run.report.valid()) OnReportReadable(run);
  auto it = runs_.find(run.record->config.name);
  if (it == runs_.end() || it->second.get() != &run) return;
  std::shared_ptr<ContainerRun> owned = std::move(it->second);
  runs_.erase(it);
  siginfo_t info{};
  // Our child unless corrald restarted since; then init reaps it.
  bool reaped = ::waitid(P_PIDFD, owned->supervisor_pidfd.get(), &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0;
  EndRun(std::move(owned), reaped, info);
}

void Lifecycle::EndRun(std::shared_ptr<ContainerRun> run, bool reaped, const siginfo_t& info) {
  ContainerRecord* record = run->record;
  const std::string name = record->config.name;
  bool was_running = record->leader != 0;  // it reported "ok", so it was registered with machined
  int exit_status = launcher_->ExitStatusOf(*record);
  if (exit_status < 0) exit_status = run->reported_exit;
  if (exit_status >= 0) record->exit_status = exit_status;
  bool failed_start = run->start_failed || !run->waiting_start.empty();
  std::string how = !reaped                         ? ""
                    : info.si_code == CLD_EXITED ? absl::StrCat(" (its supervisor exited with status ", info.si_status, ")")
                                                 : absl::StrCat(" (its supervisor was killed by signal ", info.si_status, ")");
  CallAll(&run->waiting_start, absl::InternalError(absl::StrCat("container ", name, " exited while starting", how)));
  CallAll(&run->waiting_stop, absl::OkStatus());
  record->leader = 0;
  record->addresses.clear();
  record->ready = false;
  RunEnded(record, was_running);
  if (!Apply(*run, RunEvent::kSupervisorExited).ok()) {  // never: every live phase may end
    record->state = ContainerState::kStopped;
    Changed(*record, AllChangingProperties());
  }
  if (was_running && RegistersWithMachined(name)) machines_->UnregisterMachine(name);
  // A supervisor that did not exit cleanly left its forwards (and maybe its veth) behind.
  bool clean = reaped && info.si_code == CLD_EXITED && info.si_status == 0;
  // Its container died with it (PR_SET_PDEATHSIG); anything else left in the scope (a process
  // that escaped the PID namespace's end, an exec between its steps) goes with the scope.
  // After a corrald restart the supervisor is not our child and `clean` is unknown: the scope
  // decides.
  if (!clean && (reaped || scopes_->ScopeHasProcesses(record->unit()))) scopes_->KillAndStopScope(record->unit());
  launcher_->CleanUpAfter(*record, clean, failed_start);
  if (!clean && record->config.network == NetworkMode::kBridge) ReclaimNetwork(absl::StrCat("after ", name, " ended"));
  // Last, with the state stopped and the run directory gone.
  CallAll(&run->failed_start_callers, run->start_error);
  run.reset();
  // Last: a restart forks a new supervisor for the same name.
  if (was_running && !failed_start) MaybeRestart(record);
}

}  // namespace corral::dbus
