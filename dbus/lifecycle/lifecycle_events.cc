// What `corralctl events` and the restart policy need from the lifecycle (lifecycle.h): StartedAt
// and FinishedAt, the OOM kills of a running container (dbus/oom_watch.h) as the OOMKills and
// OOMKilled properties, and the restarts of the policy (dbus/restart_policy.h) with back-off.
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "dbus/event_log.h"
#include "dbus/journal_log.h"
#include "dbus/oom_watch.h"
#include "dbus/restart_policy.h"
#include "dbus/lifecycle/lifecycle.h"

namespace corral::dbus {
namespace {

int64_t RealtimeUsec() {
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  return int64_t{now.tv_sec} * 1000000 + now.tv_nsec / 1000;
}

// A restart waiting for its timer (freed with the timer's event source).
struct Pending {
  Lifecycle* lifecycle;
  std::string name;
};

// The restarts of the policy so far, kept beside the config so a corrald restart does not
// give a failing container its restarts again (--restart on-failure:3 means 3, whoever counts).
std::string RestartCountPath(const ContainerRecord& record) { return record.paths.lib_dir + "/restart-count"; }

void SaveRestartCount(const ContainerRecord& record) {
  if (record.restart_count == 0) {
    ::unlink(RestartCountPath(record).c_str());
    return;
  }
  absl::Status saved = WriteFileAtomically(RestartCountPath(record), absl::StrCat(record.restart_count, "\n"), 0644,
                                           Durability::kProcessCrashSafe);
  if (!saved.ok()) {
    LogMessage(kPriorityWarning, absl::StrCat("keep the restart count of ", record.config.name, ": ", saved.message()),
               {{"CORRAL_CONTAINER", record.config.name}});
  }
}

// A restart waiting for its back-off, kept beside the config as the CLOCK_REALTIME time it is
// due: a corrald that dies (or is restarted) during the back-off leaves it to the next one
// (RecoverPendingRestart), which starts the container when it is due.
std::string RestartPendingPath(const ContainerRecord& record) { return record.paths.lib_dir + "/restart-pending"; }

void SavePendingRestart(const ContainerRecord& record, int64_t due_usec) {
  absl::Status saved = WriteFileAtomically(RestartPendingPath(record), absl::StrCat(due_usec, "\n"), 0644,
                                           Durability::kProcessCrashSafe);
  if (!saved.ok()) {
    LogMessage(kPriorityWarning,
               absl::StrCat("keep the pending restart of ", record.config.name, " (a corrald restart now forgets it): ",
                            saved.message()),
               {{"CORRAL_CONTAINER", record.config.name}});
  }
}

void ForgetPendingRestart(const ContainerRecord& record) { ::unlink(RestartPendingPath(record).c_str()); }

std::optional<int64_t> LoadPendingRestart(const ContainerRecord& record) {
  absl::StatusOr<std::string> text = ReadFile(RestartPendingPath(record));
  int64_t due = 0;
  if (!text.ok()) return std::nullopt;
  // A torn or garbage file still says a restart was waiting: then it is due now.
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &due)) return 0;
  return due;
}

uint32_t LoadRestartCount(const ContainerRecord& record) {
  absl::StatusOr<std::string> text = ReadFile(RestartCountPath(record));
  uint32_t count = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &count)) return 0;
  return count;
}

// The v1 notification comes when the OOM begins; the kill is counted a moment later.
constexpr uint64_t kOomRecheckUsec = 200'000;

}  // namespace

struct Lifecycle::OomState {
  Lifecycle* lifecycle = nullptr;
  std::string name;
  std::unique_ptr<OomWatch> watch;
  EventSourcePtr source;
  EventSourcePtr recheck;
  uint64_t base = 0;  // the scope's count when this run started (a leftover scope's kills)
};

// Here, where OomState is complete.
Lifecycle::Lifecycle(sd_event* event, Registry* registry, ScopeManager* scopes, MachineRegistry* machines,
                     SupervisorLauncher* launcher, LifecycleObserver* observer, LifecycleOptions options)
    : event_(event),
      registry_(registry),
      scopes_(scopes),
      machines_(machines),
      launcher_(launcher),
      observer_(observer),
      options_(std::move(options)) {}

Lifecycle::~Lifecycle() {
  // The runs' waiting callers are dropped unanswered (corrald is going away); the runs'
  // supervisors and containers keep running.
  restart_timers_.clear();
  oom_.clear();
  runs_.clear();
}

void Lifecycle::RunStarted(ContainerRecord* record, bool recovered) {
  const std::string& name = record->config.name;
  // A container found again after corrald's restart started when its state file was written.
  struct stat st;
  record->started_at_usec = recovered && ::stat(record->paths.state().c_str(), &st) == 0
                                ? int64_t{st.st_mtim.tv_sec} * 1000000 + st.st_mtim.tv_nsec / 1000
                                : RealtimeUsec();
  record->oom_kills = 0;
  if (recovered) record->restart_count = LoadRestartCount(*record);
  if (oom_.count(name)) return;
  absl::StatusOr<std::unique_ptr<OomWatch>> watch = OomWatch::Open(record->leader, record->unit());
  if (!watch.ok()) {
    LogMessage(kPriorityNotice, absl::StrCat("no OOM events for ", name, ": ", watch.status().message()),
               {{"CORRAL_CONTAINER", name}});
    return;
  }
  auto state = std::make_unique<OomState>();
  state->lifecycle = this;
  state->name = name;
  state->watch = std::move(*watch);
  state->base = state->watch->Read().value_or(0);
  sd_event_source* source = nullptr;
  int r = sd_event_add_io(
      event_, &source, state->watch->fd(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        auto* s = static_cast<OomState*>(data);
        s->lifecycle->CheckOom(s->name);
        if (s->recheck == nullptr) {
          sd_event_source* recheck = nullptr;
          sd_event_add_time_relative(
              s->lifecycle->event_, &recheck, CLOCK_MONOTONIC, kOomRecheckUsec, 0,
              [](sd_event_source*, uint64_t, void* data) -> int {
                auto* s = static_cast<OomState*>(data);
                s->recheck.reset();
                s->lifecycle->CheckOom(s->name);
                return 0;
              },
              s);
          s->recheck.reset(recheck);
        }
        return 0;
      },
      state.get());
  if (r < 0) return;
  state->source.reset(source);
  oom_[name] = std::move(state);
}

void Lifecycle::CheckOom(const std::string& name) {
  auto it = oom_.find(name);
  ContainerRecord* record = registry_->Find(name);
  if (it == oom_.end() || record == nullptr) return;
  std::optional<uint64_t> count = it->second->watch->Read();
  if (!count || *count < it->second->base) return;
  uint64_t kills = *count - it->second->base;
  if (kills <= record->oom_kills) return;
  record->oom_kills = kills;
  Changed(*record, {"OOMKilled", "OOMKills"});
  LogMessage(kPriorityWarning,
             absl::StrCat("the OOM killer killed a process of container ", name, " (", kills, " in this run, limit ",
                          record->config.memory_bytes == 0 ? std::string("none") : absl::StrCat(record->config.memory_bytes),
                          ")"),
             {{"CORRAL_CONTAINER", name}, {"CORRAL_EVENT", "oom"}, {EventDetailField("kills"), absl::StrCat(kills)}});
}

void Lifecycle::RunEnded(ContainerRecord* record, bool was_running) {
  const std::string& name = record->config.name;
  if (auto it = oom_.find(name); it != oom_.end()) {
    CheckOom(name);  // a kill that ended the container: counted before its end is told
    oom_.erase(it);
  }
  if (was_running) record->finished_at_usec = RealtimeUsec();
}

void Lifecycle::MaybeRestart(ContainerRecord* record) {
  const std::string name = record->config.name;
  absl::StatusOr<RestartPolicy> policy = ParseRestartPolicy(record->config.restart);
  if (!policy.ok() || policy->kind == RestartPolicy::Kind::kNo) return;
  // A run that lasted counts as a success: the back-off starts again.
  if (record->finished_at_usec - record->started_at_usec >= static_cast<int64_t>(kRestartResetUsec)) {
    record->restart_count = 0;
    SaveRestartCount(*record);
  }
  if (!ShouldRestart(*policy, record->exit_status, record->stopped_by_user, record->restart_count)) return;
  uint64_t delay = RestartDelayUsec(record->restart_count);
  ++record->restart_count;
  SaveRestartCount(*record);
  Changed(*record, {"RestartCount"});
  LogMessage(kPriorityNotice,
             absl::StrCat("container ", name, " exited with status ", record->exit_status, ": restart ",
                          record->restart_count, " (", FormatRestartPolicy(*policy), ") in ", delay / 1000, " ms"),
             {{"CORRAL_CONTAINER", name},
              {"CORRAL_EVENT", "restart"},
              {EventDetailField("count"), absl::StrCat(record->restart_count)}});
  ScheduleRestart(record, delay);
}

// The restart's timer, and its due time on disk until the timer fires or is called off.
void Lifecycle::ScheduleRestart(ContainerRecord* record, uint64_t delay_usec) {
  const std::string name = record->config.name;
  CancelRestart(record);
  auto* pending = new Pending{this, name};  // freed with its timer (the destroy callback)
  sd_event_source* source = nullptr;
  int r = sd_event_add_time_relative(
      event_, &source, CLOCK_MONOTONIC, delay_usec, 0,
      [](sd_event_source* s, uint64_t, void* data) -> int {
        auto* p = static_cast<Pending*>(data);
        Lifecycle* lifecycle = p->lifecycle;
        const std::string name = p->name;  // a copy: releasing the source frees p
        auto it = lifecycle->restart_timers_.find(name);
        if (it == lifecycle->restart_timers_.end() || it->second.get() != s) return 0;
        EventSourcePtr done = std::move(it->second);
        lifecycle->restart_timers_.erase(it);
        ContainerRecord* rec = lifecycle->registry_->Find(name);
        if (rec == nullptr) return 0;
        // Forgotten once the start is under way (its supervisor is adopted after a corrald
        // restart from here on) or refused.
        if (rec->state != ContainerState::kStopped || rec->stopped_by_user) {
          ForgetPendingRestart(*rec);
          return 0;
        }
        absl::Status started = lifecycle->StartRun(rec, nullptr);
        ForgetPendingRestart(*rec);
        if (!started.ok()) {
          LogMessage(kPriorityErr, absl::StrCat("restart of ", name, " failed: ", started.message()),
                     {{"CORRAL_CONTAINER", name}, {"CORRAL_EVENT", "restart-failed"}});
        }
        return 0;
      },
      pending);
  if (r < 0) {
    delete pending;
    return;
  }
  sd_event_source_set_destroy_callback(source, [](void* data) { delete static_cast<Pending*>(data); });
  restart_timers_[name].reset(source);
  SavePendingRestart(*record, RealtimeUsec() + static_cast<int64_t>(delay_usec));
}

// After corrald's restart, for a container that does not run: the restart its predecessor was
// waiting for, when it is due (at once if that time has passed), with the count it had.
void Lifecycle::RecoverPendingRestart(ContainerRecord* record) {
  std::optional<int64_t> due = LoadPendingRestart(*record);
  if (!due) return;
  const std::string& name = record->config.name;
  absl::StatusOr<RestartPolicy> policy = ParseRestartPolicy(record->config.restart);
  if (!policy.ok() || policy->kind == RestartPolicy::Kind::kNo) {
    ForgetPendingRestart(*record);
    return;
  }
  record->restart_count = LoadRestartCount(*record);
  Changed(*record, {"RestartCount"});
  int64_t left = *due - RealtimeUsec();
  // Never longer than the longest back-off: a clock set back must not postpone it for ever.
  uint64_t delay = left <= 0 ? 0 : std::min<uint64_t>(left, RestartDelayUsec(UINT32_MAX));
  LogMessage(kPriorityNotice,
             absl::StrCat("container ", name, ": restart ", record->restart_count, " (", FormatRestartPolicy(*policy),
                          ") was waiting when corrald stopped; in ", delay / 1000, " ms"),
             {{"CORRAL_CONTAINER", name}});
  ScheduleRestart(record, delay);
}

bool Lifecycle::CancelRestart(ContainerRecord* record) {
  auto it = restart_timers_.find(record->config.name);
  if (it == restart_timers_.end()) return false;
  // The timer's userdata (its Pending) goes with it: freed by the destroy callback.
  restart_timers_.erase(it);
  ForgetPendingRestart(*record);
  return true;
}

void Lifecycle::UserStarted(ContainerRecord* record) {
  CancelRestart(record);
  record->stopped_by_user = false;
  record->restart_count = 0;
  SaveRestartCount(*record);
}

}  // namespace corral::dbus
