// corrald's calls to systemd (org.freedesktop.systemd1) and systemd-machined
// (org.freedesktop.machine1), asynchronous on corrald's bus so the event loop never waits.
#ifndef CORRAL_DBUS_SYSTEMD_CLIENT_H_
#define CORRAL_DBUS_SYSTEMD_CLIENT_H_

#include <systemd/sd-bus.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "dbus/lifecycle/interfaces.h"

namespace corral::dbus {

// The lifecycle's scope manager and machine registry (dbus/lifecycle/interfaces.h) over the bus.
class SystemdClient : public ScopeManager, public MachineRegistry {
 public:

  // Subscribes to the manager's job signals (JobRemoved says when a scope is really there).
  static absl::StatusOr<std::unique_ptr<SystemdClient>> Create(sd_bus* bus);
  ~SystemdClient() override;

  // StartTransientUnit of a scope in machine.slice with Delegate=yes, DevicePolicy=closed and
  // the device allow-list and limits asked for;
  // `done` runs once its job is removed: OK when the job's result is "done". When systemd's bus
  // connection was reset meanwhile (its JobRemoved lost), the scope's state decides. A scope of
  // that name still loaded (the emptied scope of the container's last run, which systemd
  // collects a moment after the container stopped) is stopped first and the start tried again.
  void StartScope(const ScopeSpec& spec, Done done) override;

  // Registers a running container with machined (so machinectl shows it). Calls `done` with
  // Unavailable when machined is not there.
  // A machine of the same name left over (machined missed its scope's end, as after a systemd
  // re-exec) is unregistered and the registration tried once more: left there, machined would
  // stop the new scope of the same name when it finally collects the old machine.
  void RegisterMachine(const std::string& name, pid_t leader, const std::string& root_directory, Done done) override;

  // SetUnitProperties(unit, runtime=true, ...) with these t-valued properties (MemoryMax,
  // TasksMax, CPUWeight, CPUQuotaPerSecUSec): a running scope's limits changed in place, until
  // it stops. `done` gets systemd's answer.
  void SetUnitProperties(const std::string& unit, const std::vector<std::pair<std::string, uint64_t>>& properties,
                         Done done) override;

  // Tells machined the machine is gone, as systemd-nspawn does when its container ends (without
  // this, machined notices by itself when the scope goes). No such machine is fine.
  void UnregisterMachine(const std::string& name) override;

  // Kills whatever is left in scope `unit` (SIGKILL to all its processes) and stops it, without
  // waiting: after a supervisor died, nothing of its container may run on unsupervised.
  void KillAndStopScope(const std::string& unit) override;

  // Whether systemd's scope `unit` (in machine.slice) has processes in it (its cgroup is
  // populated), and whether it is frozen (cgroup2's freezer, from outside the container):
  // read from its cgroup.events.
  bool ScopeHasProcesses(const std::string& unit) override;
  bool ScopeIsFrozen(const std::string& unit) override;

  // Unregisters every machine of machined's registered by corral (service "corral") whose name
  // is not in `keep`; `freed` is called with each name (corrald's start, issue 13).
  void UnregisterMachinesExcept(std::set<std::string> keep, std::function<void(const std::string&)> freed) override;

  // Registers every container of `running` (name -> leader pid and root directory) that
  // machined does not list: one adopted by a corrald whose predecessor died between the
  // supervisor's "ok" and machined's answer would otherwise stay unregistered for good (issue 13:
  // 9 of 50 after a kill -9 with starts in flight). `registered` is called with each name and
  // the outcome.
  // (MachineLeader: dbus/lifecycle/interfaces.h.)
  void RegisterMissingMachines(std::map<std::string, MachineLeader> running,
                               std::function<void(const std::string&, absl::Status)> registered) override;

 private:
  explicit SystemdClient(sd_bus* bus) : bus_(bus) {}
  void StartScopeOnce(const ScopeSpec& spec, bool replace_leftover, Done done);
  void StopLeftoverScope(const ScopeSpec& spec, Done done);
  // `done` runs when systemd's job `job` (for `unit`) is removed; the call's place in flight is
  // held until then.
  void WaitForJob(const std::string& job, const std::string& unit, Done done);
  void RegisterMachineOnce(const std::string& name, pid_t leader, const std::string& root_directory,
                           bool retry_if_exists, Done done);
  static int OnJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int OnSystemdOwnerChanged(sd_bus_message* m, void* userdata, sd_bus_error* error);
  void JobFinished(const std::string& job, const std::string& result);
  void Resubscribe();
  void CheckWaitingJob(const std::string& job, const std::string& unit);

  // How many calls, and scope jobs, corrald has at systemd and machined at once. Two limits of
  // the system bus meet here. dbus-daemon allows one connection 128 calls awaiting replies
  // (max_replies_per_connection). And systemd watches the client of every job it has queued
  // with a D-Bus match rule on its own connection (bus_job_track_sender), of which dbus-daemon
  // allows 512 (max_match_rules_per_connection); past that systemd's AddMatch fails, sd-bus
  // drops systemd's connection to the bus, every call awaiting systemd's reply ends with
  // "recipient disconnected" and the JobRemoved signals of the jobs queued so far are lost.
  // systemd runs its job queue only when no bus message waits, so a client that sends the next
  // StartTransientUnit as soon as the last is answered queues jobs without bound (1,000
  // containers at once lost systemd's connection at about 500). So a scope's start holds its
  // place from the call until its job is removed, and systemd never holds more than this many
  // jobs of ours, whatever else asks it for jobs at the same time.
  static constexpr int kMaxInFlight = 64;
  // `on_reply` returns true to keep the call's place until ReleaseSlot() (a scope's job).
  void CallAsync(sd_bus_message* call, std::function<bool(sd_bus_message* reply)> on_reply);
  void ReleaseSlot();
  void SendNext();
  struct Queued {
    sd_bus_message* call;
    std::function<bool(sd_bus_message*)> on_reply;
  };
  std::deque<Queued> queued_;
  int in_flight_ = 0;

  struct Waiting {
    std::string unit;
    Done done;
  };
  sd_bus* bus_;
  sd_bus_slot* job_removed_slot_ = nullptr;
  sd_bus_slot* owner_changed_slot_ = nullptr;
  std::map<std::string, Waiting> waiting_;       // job path -> who waits for it
  std::map<std::string, std::string> finished_;  // JobRemoved that came before the call's reply
  std::string cgroup2_root_;  // where cgroup2 is mounted, found at the first look at a scope
  bool ScopeEventsContain(const std::string& unit, const char* line);
};

// An sd_bus_error with its message, as a Status.
absl::Status BusError(const sd_bus_error* error, int r, absl::string_view what);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SYSTEMD_CLIENT_H_
