#include "dbus/systemd_client.h"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "common/errors.h"
#include "common/files.h"
#include "runtime/cgroup/cgroup.h"

namespace corral::dbus {
namespace {

constexpr char kSystemd[] = "org.freedesktop.systemd1";
constexpr char kSystemdPath[] = "/org/freedesktop/systemd1";
constexpr char kSystemdManager[] = "org.freedesktop.systemd1.Manager";
constexpr char kMachined[] = "org.freedesktop.machine1";
constexpr char kMachinedPath[] = "/org/freedesktop/machine1";
constexpr char kMachinedManager[] = "org.freedesktop.machine1.Manager";

// A heap-allocated callback for one async call; sd-bus owns it through the slot's userdata.
struct CallContext {
  std::function<int(sd_bus_message*)> on_reply;
};

int OnReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
  std::unique_ptr<CallContext> context(static_cast<CallContext*>(userdata));
  context->on_reply(m);
  return 0;
}

// The call's own error, or OK.
absl::Status ReplyStatus(sd_bus_message* m, absl::string_view what) {
  if (m == nullptr) return absl::UnavailableError(absl::StrCat(what, ": the call could not be sent"));
  const sd_bus_error* error = sd_bus_message_get_error(m);
  if (error == nullptr) return absl::OkStatus();
  return BusError(error, -sd_bus_message_get_errno(m), what);
}

}  // namespace

absl::Status BusError(const sd_bus_error* error, int r, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ");
  if (error != nullptr && error->message != nullptr) {
    absl::StrAppend(&message, error->message, error->name ? absl::StrCat(" (", error->name, ")") : "");
  } else {
    absl::StrAppend(&message, std::strerror(r < 0 ? -r : r));
  }
  return absl::Status(StatusCodeFromErrno(r < 0 ? -r : (r == 0 ? EIO : r)), message);
}

absl::StatusOr<std::unique_ptr<SystemdClient>> SystemdClient::Create(sd_bus* bus) {
  std::unique_ptr<SystemdClient> client(new SystemdClient(bus));
  int r = sd_bus_match_signal(bus, &client->job_removed_slot_, kSystemd, kSystemdPath, kSystemdManager, "JobRemoved",
                              &SystemdClient::OnJobRemoved, client.get());
  if (r < 0) return ErrnoError(-r, "match systemd's JobRemoved");
  // systemd drops its bus connection when dbus-daemon refuses it a match rule, and connects
  // again: our subscription and the JobRemoved signals of that moment are lost with it.
  r = sd_bus_add_match(bus, &client->owner_changed_slot_,
                       "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                       "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.freedesktop.systemd1'",
                       &SystemdClient::OnSystemdOwnerChanged, client.get());
  if (r < 0) return ErrnoError(-r, "watch systemd's bus name");
  client->Resubscribe();
  return client;
}

void SystemdClient::Resubscribe() {
  // Without a subscriber systemd does not send job signals at all.
  int r = sd_bus_call_method_async(bus_, nullptr, kSystemd, kSystemdPath, kSystemdManager, "Subscribe", nullptr,
                                   nullptr, "");
  if (r < 0) ::fprintf(stderr, "corrald: subscribe to systemd: %s\n", std::strerror(-r));
}

int SystemdClient::OnSystemdOwnerChanged(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<SystemdClient*>(userdata);
  const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
  if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || new_owner == nullptr || !*new_owner) {
    return 0;
  }
  ::fprintf(stderr, "corrald: systemd is on the bus again (%s); %zu scope jobs to check\n", new_owner,
            self->waiting_.size());
  // Subscribe first: a job still queued then announces its end as usual.
  self->Resubscribe();
  std::vector<std::pair<std::string, std::string>> jobs;
  for (const auto& [job, waiting] : self->waiting_) jobs.emplace_back(job, waiting.unit);
  for (const auto& [job, unit] : jobs) self->CheckWaitingJob(job, unit);
  return 0;
}

// A job whose JobRemoved may have been lost: while systemd still has the job, its signal will
// come; when the job is gone, the unit's state is its result.
void SystemdClient::CheckWaitingJob(const std::string& job, const std::string& unit) {
  auto* context = new CallContext;
  context->on_reply = [this, job, unit](sd_bus_message* reply) -> int {
    if (!sd_bus_message_is_method_error(reply, nullptr)) return 0;  // still queued or running
    char* path = nullptr;
    if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &path) < 0) return 0;
    auto* state_context = new CallContext;
    state_context->on_reply = [this, job](sd_bus_message* state_reply) -> int {
      const char* state = nullptr;
      if (sd_bus_message_is_method_error(state_reply, nullptr) || sd_bus_message_enter_container(state_reply, 'v', "s") < 0 ||
          sd_bus_message_read(state_reply, "s", &state) < 0) {
        state = "";
      }
      JobFinished(job, std::string(state) == "active" ? "done" : "failed");
      return 0;
    };
    int r = sd_bus_call_method_async(bus_, nullptr, kSystemd, path, "org.freedesktop.DBus.Properties", "Get", OnReply,
                                     state_context, "ss", "org.freedesktop.systemd1.Unit", "ActiveState");
    std::free(path);
    if (r < 0) {
      delete state_context;
      JobFinished(job, "failed");
    }
    return 0;
  };
  int r = sd_bus_call_method_async(bus_, nullptr, kSystemd, job.c_str(), "org.freedesktop.DBus.Properties", "Get",
                                   OnReply, context, "ss", "org.freedesktop.systemd1.Job", "State");
  if (r < 0) {
    delete context;
    JobFinished(job, "failed");
  }
}

SystemdClient::~SystemdClient() {
  for (Queued& q : queued_) sd_bus_message_unref(q.call);
  sd_bus_slot_unref(job_removed_slot_);
  sd_bus_slot_unref(owner_changed_slot_);
}

int SystemdClient::OnJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<SystemdClient*>(userdata);
  uint32_t id = 0;
  const char *job = nullptr, *unit = nullptr, *result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
  self->JobFinished(job, result);
  return 0;
}

void SystemdClient::JobFinished(const std::string& job, const std::string& result) {
  auto it = waiting_.find(job);
  if (it == waiting_.end()) {
    // Possibly ours, with the StartTransientUnit reply still on its way. Keep a bounded memory.
    if (finished_.size() > 256) finished_.erase(finished_.begin());
    finished_[job] = result;
    return;
  }
  Done done = std::move(it->second.done);
  waiting_.erase(it);
  ReleaseSlot();
  if (result == "done") {
    done(absl::OkStatus());
  } else {
    done(absl::InternalError(absl::StrCat("systemd's job for the scope ended with \"", result, "\"")));
  }
}

void SystemdClient::StartScope(const ScopeSpec& spec, Done done) {
  StartScopeOnce(spec, /*replace_leftover=*/true, std::move(done));
}

void SystemdClient::StartScopeOnce(const ScopeSpec& spec, bool replace_leftover, Done done) {
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &call, kSystemd, kSystemdPath, kSystemdManager, "StartTransientUnit");
  // "fail": a unit of that name that exists already is an error, never silently replaced.
  if (r >= 0) r = sd_bus_message_append(call, "ss", spec.unit.c_str(), "fail");
  if (r >= 0) r = sd_bus_message_open_container(call, 'a', "(sv)");
  if (r >= 0) {
    r = sd_bus_message_append(call, "(sv)(sv)(sv)(sv)(sv)", "Slice", "s", runtime::kMachineSlice, "Delegate", "b", 1,
                              "Description", "s", spec.description.c_str(), "CollectMode", "s",
                              "inactive-or-failed", "PIDs", "au", 1, static_cast<uint32_t>(spec.pid));
  }
  // Accounting of every figure `corralctl stats` shows, whatever the host's defaults (as
  // Docker's systemd driver asks): on a hybrid host this is what gives the scope its own
  // cpuacct and blkio cgroups instead of leaving it in the root's, which count the whole host.
  if (r >= 0) {
    r = sd_bus_message_append(call, "(sv)(sv)(sv)(sv)", "MemoryAccounting", "b", 1, "TasksAccounting", "b", 1,
                              "CPUAccounting", "b", 1, "IOAccounting", "b", 1);
  }
  if (r >= 0 && spec.memory_max) r = sd_bus_message_append(call, "(sv)", "MemoryMax", "t", spec.memory_max);
  if (r >= 0 && spec.tasks_max) r = sd_bus_message_append(call, "(sv)", "TasksMax", "t", spec.tasks_max);
  if (r >= 0 && spec.cpu_weight) r = sd_bus_message_append(call, "(sv)", "CPUWeight", "t", spec.cpu_weight);
  if (r >= 0 && spec.cpu_quota_per_sec_usec) {
    r = sd_bus_message_append(call, "(sv)", "CPUQuotaPerSecUSec", "t", spec.cpu_quota_per_sec_usec);
  }
  // Only the listed devices open, in every process of the scope (a node made with mknod, or
  // shipped in an image, included): systemd attaches the cgroup v2 device program or writes
  // devices.allow on v1, as systemd-nspawn's scopes have it.
  if (r >= 0) r = sd_bus_message_append(call, "(sv)", "DevicePolicy", "s", "closed");
  if (r >= 0) r = sd_bus_message_open_container(call, 'r', "sv");
  if (r >= 0) r = sd_bus_message_append(call, "s", "DeviceAllow");
  if (r >= 0) r = sd_bus_message_open_container(call, 'v', "a(ss)");
  if (r >= 0) r = sd_bus_message_open_container(call, 'a', "(ss)");
  for (const auto& [node, access] : spec.device_allow) {
    if (r >= 0) r = sd_bus_message_append(call, "(ss)", node.c_str(), access.c_str());
  }
  if (r >= 0) r = sd_bus_message_close_container(call);
  if (r >= 0) r = sd_bus_message_close_container(call);
  if (r >= 0) r = sd_bus_message_close_container(call);
  if (r >= 0) r = sd_bus_message_close_container(call);
  if (r >= 0) r = sd_bus_message_append(call, "a(sa(sv))", 0);
  if (r < 0) {
    sd_bus_message_unref(call);
    done(ErrnoError(-r, "build StartTransientUnit"));
    return;
  }
  CallAsync(call, [this, done, spec, replace_leftover, unit = spec.unit](sd_bus_message* reply) -> bool {
    if (replace_leftover && reply != nullptr &&
        sd_bus_error_has_name(sd_bus_message_get_error(reply), "org.freedesktop.systemd1.UnitExists")) {
      StopLeftoverScope(spec, done);
      return false;
    }
    absl::Status status = ReplyStatus(reply, absl::StrCat("start ", unit));
    const char* job = nullptr;
    if (status.ok() && sd_bus_message_read(reply, "o", &job) < 0) status = absl::InternalError("bad StartTransientUnit reply");
    if (!status.ok()) {
      done(status);
      return false;
    }
    // The call keeps its place until the job is removed (JobFinished releases it).
    WaitForJob(job, unit, done);
    return true;
  });
}

void SystemdClient::SetUnitProperties(const std::string& unit,
                                      const std::vector<std::pair<std::string, uint64_t>>& properties, Done done) {
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &call, kSystemd, kSystemdPath, kSystemdManager, "SetUnitProperties");
  if (r >= 0) r = sd_bus_message_append(call, "sb", unit.c_str(), 1);
  if (r >= 0) r = sd_bus_message_open_container(call, 'a', "(sv)");
  for (const auto& [name, value] : properties) {
    if (r >= 0) r = sd_bus_message_append(call, "(sv)", name.c_str(), "t", value);
  }
  if (r >= 0) r = sd_bus_message_close_container(call);
  if (r < 0) {
    sd_bus_message_unref(call);
    done(ErrnoError(-r, "build SetUnitProperties"));
    return;
  }
  CallAsync(call, [done, unit](sd_bus_message* reply) -> bool {
    done(ReplyStatus(reply, absl::StrCat("set the limits of ", unit)));
    return false;
  });
}

void SystemdClient::WaitForJob(const std::string& job, const std::string& unit, Done done) {
  waiting_[job] = {unit, std::move(done)};
  auto early = finished_.find(job);
  if (early != finished_.end()) {  // its JobRemoved came before the call's reply
    std::string result = early->second;
    finished_.erase(early);
    JobFinished(job, result);
  }
}

void SystemdClient::StopLeftoverScope(const ScopeSpec& spec, Done done) {
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &call, kSystemd, kSystemdPath, kSystemdManager, "StopUnit");
  if (r >= 0) r = sd_bus_message_append(call, "ss", spec.unit.c_str(), "replace");
  if (r < 0) {
    sd_bus_message_unref(call);
    done(ErrnoError(-r, "build StopUnit"));
    return;
  }
  CallAsync(call, [this, spec, done](sd_bus_message* reply) -> bool {
    const char* job = nullptr;
    if (reply == nullptr || sd_bus_message_is_method_error(reply, nullptr) || sd_bus_message_read(reply, "o", &job) < 0) {
      // Gone meanwhile (NoSuchUnit), or it cannot be stopped: the second start says which.
      StartScopeOnce(spec, /*replace_leftover=*/false, done);
      return false;
    }
    // Like a scope's start, the stop keeps its place until its job is removed; then the unit,
    // inactive, is collected (CollectMode=inactive-or-failed) before systemd reads our next call.
    WaitForJob(job, spec.unit, [this, spec, done](absl::Status) { StartScopeOnce(spec, false, done); });
    return true;
  });
}

void SystemdClient::RegisterMachine(const std::string& name, pid_t leader, const std::string& root_directory,
                                    Done done) {
  RegisterMachineOnce(name, leader, root_directory, /*retry_if_exists=*/true, std::move(done));
}

void SystemdClient::RegisterMachineOnce(const std::string& name, pid_t leader, const std::string& root_directory,
                                        bool retry_if_exists, Done done) {
  sd_bus_message* call = nullptr;
  // RegisterMachine adopts the unit the leader is in (our scope) instead of making one.
  int r = sd_bus_message_new_method_call(bus_, &call, kMachined, kMachinedPath, kMachinedManager, "RegisterMachine");
  if (r >= 0) {
    r = sd_bus_message_append(call, "sayssus", name.c_str(), 0, "corral", "container", static_cast<uint32_t>(leader),
                              root_directory.c_str());
  }
  if (r < 0) {
    sd_bus_message_unref(call);
    done(ErrnoError(-r, "build RegisterMachine"));
    return;
  }
  CallAsync(call, [this, done, name, leader, root_directory, retry_if_exists](sd_bus_message* reply) {
    if (retry_if_exists && reply != nullptr &&
        sd_bus_error_has_name(sd_bus_message_get_error(reply), "org.freedesktop.machine1.MachineExists")) {
      ::fprintf(stderr, "corrald: machined still has a machine %s; unregistering it\n", name.c_str());
      UnregisterMachine(name);
      RegisterMachineOnce(name, leader, root_directory, /*retry_if_exists=*/false, done);
      return false;
    }
    done(ReplyStatus(reply, absl::StrCat("register machine ", name)));
    return false;
  });
}

void SystemdClient::UnregisterMachine(const std::string& name) {
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &call, kMachined, kMachinedPath, kMachinedManager, "UnregisterMachine");
  if (r >= 0) r = sd_bus_message_append(call, "s", name.c_str());
  if (r < 0) {
    sd_bus_message_unref(call);
    return;
  }
  CallAsync(call, [](sd_bus_message*) { return false; });  // NoSuchMachine or gone: nothing to do
}

void SystemdClient::KillAndStopScope(const std::string& unit) {
  sd_bus_message* kill = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &kill, kSystemd, kSystemdPath, kSystemdManager, "KillUnit");
  if (r >= 0) r = sd_bus_message_append(kill, "ssi", unit.c_str(), "all", SIGKILL);
  if (r >= 0) {
    CallAsync(kill, [](sd_bus_message*) { return false; });  // NoSuchUnit: gone already
  } else {
    sd_bus_message_unref(kill);
  }
  sd_bus_message* stop = nullptr;
  r = sd_bus_message_new_method_call(bus_, &stop, kSystemd, kSystemdPath, kSystemdManager, "StopUnit");
  if (r >= 0) r = sd_bus_message_append(stop, "ss", unit.c_str(), "replace");
  if (r >= 0) {
    CallAsync(stop, [](sd_bus_message*) { return false; });
  } else {
    sd_bus_message_unref(stop);
  }
}

void SystemdClient::UnregisterMachinesExcept(std::set<std::string> keep,
                                             std::function<void(const std::string&)> freed) {
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &call, kMachined, kMachinedPath, kMachinedManager, "ListMachines");
  if (r < 0) {
    sd_bus_message_unref(call);
    return;
  }
  CallAsync(call, [this, keep = std::move(keep), freed = std::move(freed)](sd_bus_message* reply) -> bool {
    if (reply == nullptr || sd_bus_message_is_method_error(reply, nullptr)) return false;  // no machined
    std::vector<std::string> stray;
    if (sd_bus_message_enter_container(reply, 'a', "(ssso)") < 0) return false;
    const char *name = nullptr, *machine_class = nullptr, *service = nullptr, *path = nullptr;
    while (sd_bus_message_read(reply, "(ssso)", &name, &machine_class, &service, &path) > 0) {
      if (std::string(service) == "corral" && !keep.count(name)) stray.emplace_back(name);
    }
    for (const std::string& machine : stray) {
      UnregisterMachine(machine);
      freed(machine);
    }
    return false;
  });
}

void SystemdClient::RegisterMissingMachines(std::map<std::string, MachineLeader> running,
                                            std::function<void(const std::string&, absl::Status)> registered) {
  if (running.empty()) return;
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &call, kMachined, kMachinedPath, kMachinedManager, "ListMachines");
  if (r < 0) {
    sd_bus_message_unref(call);
    return;
  }
  CallAsync(call, [this, running = std::move(running), registered = std::move(registered)](sd_bus_message* reply) mutable {
    if (reply == nullptr || sd_bus_message_is_method_error(reply, nullptr)) return false;  // no machined
    if (sd_bus_message_enter_container(reply, 'a', "(ssso)") < 0) return false;
    const char *name = nullptr, *machine_class = nullptr, *service = nullptr, *path = nullptr;
    while (sd_bus_message_read(reply, "(ssso)", &name, &machine_class, &service, &path) > 0) running.erase(name);
    for (const auto& [machine, leader] : running) {
      RegisterMachine(machine, leader.leader, leader.root_directory,
                      [registered, machine = machine](absl::Status status) { registered(machine, std::move(status)); });
    }
    return false;
  });
}

void SystemdClient::CallAsync(sd_bus_message* call, std::function<bool(sd_bus_message*)> on_reply) {
  queued_.push_back({call, std::move(on_reply)});  // owns the reference to `call`
  SendNext();
}

void SystemdClient::ReleaseSlot() {
  --in_flight_;
  SendNext();
}

void SystemdClient::SendNext() {
  while (in_flight_ < kMaxInFlight && !queued_.empty()) {
    Queued next = std::move(queued_.front());
    queued_.pop_front();
    auto* context = new CallContext;
    context->on_reply = [this, on_reply = std::move(next.on_reply)](sd_bus_message* reply) -> int {
      if (!on_reply(reply)) ReleaseSlot();
      return 0;
    };
    int r = sd_bus_call_async(bus_, nullptr, next.call, OnReply, context, 0);
    sd_bus_message_unref(next.call);
    if (r < 0) {
      // No reply will come: the caller hears of it now (a null reply is "not sent").
      std::unique_ptr<CallContext> unsent(context);
      ++in_flight_;  // balanced by the callback
      unsent->on_reply(nullptr);
      continue;
    }
    ++in_flight_;
  }
}

bool SystemdClient::ScopeEventsContain(const std::string& unit, const char* line) {
  if (cgroup2_root_.empty()) {
    absl::StatusOr<std::string> root = runtime::Cgroup2MountPoint();
    if (!root.ok()) return false;  // no cgroup2: systemd's own answer will tell
    cgroup2_root_ = *root;
  }
  // Transient scopes of corral live in machine.slice at the top of systemd's tree.
  absl::StatusOr<std::string> events = ReadFile(runtime::MachineScopeDirectory(cgroup2_root_, unit) + "/cgroup.events");
  return events.ok() && absl::StrContains(*events, line);
}

bool SystemdClient::ScopeHasProcesses(const std::string& unit) { return ScopeEventsContain(unit, "populated 1"); }

// "frozen 1" when the scope or an ancestor is frozen, not when only a cgroup below it is.
bool SystemdClient::ScopeIsFrozen(const std::string& unit) { return ScopeEventsContain(unit, "frozen 1"); }

}  // namespace corral::dbus
