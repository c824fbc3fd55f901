// corrald's D-Bus face: the org.corral1.Manager object and one org.corral1.Container object per
// container, over the Registry. Handlers parse, validate, authorize, act; starts, stops and
// execs reply later, from the event loop, so the loop never waits on a container.
//
// A start: fork the supervisor (dbus/supervisor.h), StartTransientUnit of corral-NAME.scope
// with the supervisor as its process, wait for the job, let the supervisor go, and reply when
// it reports the container running; then register the machine with machined. A stop: the
// init's halt signal through the leader's pidfd, SIGKILL after the timeout; done when the
// supervisor exits. After a restart of corrald, running containers are found again through
// their state files under /run/corral/containers and their supervisors' pidfds.
#ifndef CORRAL_DBUS_SERVICE_H_
#define CORRAL_DBUS_SERVICE_H_

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <map>
#include <set>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "dbus/container_stats.h"
#include "dbus/exec_socket.h"
#include "dbus/limits.h"
#include "dbus/registry.h"
#include "dbus/systemd_client.h"
#include "runtime/attach.h"

namespace corral::dbus {

struct ServiceOptions {
  RegistryPaths paths;
  std::string network_config = "/etc/corral/network.conf";
  uint32_t default_stop_timeout_seconds = 10;
  // A start that has not reported running by then is failed and cleaned (issue 13).
  uint32_t start_timeout_seconds = 90;
};

class Service {
 public:
  // Loads the registry, finds running containers again, and publishes the objects on `bus`
  // (the caller requests the bus name afterwards, when everything answers).
  static absl::StatusOr<std::unique_ptr<Service>> Create(sd_event* event, sd_bus* bus, ServiceOptions options);
  ~Service();

  Registry& registry() { return registry_; }

  // Also serves the same objects on a private socket (like systemd's /run/systemd/private):
  // root's corralctl talks to corrald directly there, without dbus-daemon's hops, Hello and
  // policy pass. Made under umask 0077, so only root can connect; corrald still checks the
  // peer's uid.
  absl::Status ListenPrivate(const std::string& path);
  // Serves `corralctl exec` on the exec socket too (dbus/exec_wire.h): the Exec method's work
  // for root's client that needs no D-Bus.
  absl::Status ListenExec(const std::string& path);

 private:
  struct Running;  // a started container's live handles
  struct PendingExec;

  Service(sd_event* event, sd_bus* bus, ServiceOptions options);

  absl::Status Publish(sd_bus* bus, std::vector<sd_bus_slot*>* slots);
  void AcceptPrivate();
  struct PrivateConnection;
  void Recover(ContainerRecord* record);

  static const sd_bus_vtable kManagerVtable[];
  static const sd_bus_vtable kContainerVtable[];

  // Method handlers (sd-bus vtable callbacks).
  static int CreateContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int StartContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int StopContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int StopContainerWithTimeout(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int KillContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int RemoveContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int ListContainers(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int GetContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int OpenConsole(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int Exec(sd_bus_message* m, void* userdata, sd_bus_error* error);
  // Exec's work once its arguments are checked, for the bus and the exec socket alike: the
  // exec under way in *pending (its caller still to be set).
  absl::Status BeginExec(ContainerRecord* record, const runtime::AttachSpec& spec, UniqueFd pty_receiver,
                         PendingExec** pending);
  void ExecFromSocket(ExecSocketCall call);
  // The attach of `pending` has news (its report socket is readable).
  void ExecReport(PendingExec* pending);
  static int CheckConfig(sd_bus_message* m, void* userdata, sd_bus_error* error);
  // GetStats and Top (dbus/container_stats.h does the reading), open to every caller.
  static int GetStats(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int Top(sd_bus_message* m, void* userdata, sd_bus_error* error);
  // SetLimits (dbus/service_limits.cc): live on a running scope, saved for the next start.
  static int SetLimits(sd_bus_message* m, void* userdata, sd_bus_error* error);
  absl::Status SaveLimits(ContainerRecord* record, const LimitsChange& change, bool applied_live);
  static int VolumeCall(sd_bus_message* m, void* userdata, sd_bus_error* error);  // Create/List/RemoveVolume
  static int StatsError(const StatsRequest& request, const absl::Status& status, sd_bus_error* error);
  ContainerRecord* RunningTarget(sd_bus_message* m, sd_bus_error* error, int* r, StatsRequest* request);
  static int FindContainer(sd_bus* bus, const char* path, const char* interface, void* userdata, void** found,
                           sd_bus_error* error);
  static int EnumerateContainers(sd_bus* bus, const char* prefix, void* userdata, char*** nodes, sd_bus_error* error);
  static int GetProperty(sd_bus* bus, const char* path, const char* interface, const char* property,
                         sd_bus_message* reply, void* userdata, sd_bus_error* error);

  // The common start of a method on one container: the caller must be root, the name valid,
  // the container known. nullptr with *r set to the error to return otherwise.
  ContainerRecord* Target(sd_bus_message* m, sd_bus_error* error, int* r);
  int Stop(sd_bus_message* m, ContainerRecord* record, uint32_t timeout_seconds, sd_bus_error* error);
  int Start(sd_bus_message* m, ContainerRecord* record, sd_bus_error* error);
  // The halt signal now, SIGKILL after the timeout; the state becomes stopping.
  void BeginStop(ContainerRecord* record, Running& run, uint32_t timeout_seconds);

  // Events and the restart policy (dbus/service_events.cc): a run's start (StartedAt, the OOM
  // watch) and end (FinishedAt, the last OOM count), the policy's decision after an end, the
  // user's start and stop (which reset or call off restarts).
  struct OomState;
  void RunStarted(ContainerRecord* record, bool recovered);
  void RunEnded(ContainerRecord* record, bool was_running);
  void CheckOom(const std::string& name);
  void MaybeRestart(ContainerRecord* record);
  void UserStarted(ContainerRecord* record);
  bool CancelRestart(ContainerRecord* record);  // true when one was waiting
  void DropEventState();
  std::map<std::string, OomState*> oom_;                    // running containers' OOM watches
  std::map<std::string, sd_event_source*> restart_timers_;  // restarts waiting for their back-off
  void WatchSupervisorExit(Running* run);
  void StartFailed(const std::string& name, const absl::Status& status);
  // Ends a start under way: its callers get `status`, its supervisor is killed (its container
  // with it) and its exit cleans up (dbus/service.cc, issue 13).
  void AbortStart(const std::string& name, const absl::Status& status);
  // RemoveContainer's checks and work, tried again from a timer while the leases lock is held
  // elsewhere (*busy: try again), until `deadline_usec` (CLOCK_MONOTONIC).
  int FinishRemove(sd_bus_message* m, const std::string& name, uint64_t deadline_usec, sd_bus_error* error,
                   bool* busy);
  bool reclaim_pending_ = false;  // a network reconciliation waits for the leases lock
  void OnSupervisorReport(const std::string& name);
  void OnSupervisorExit(const std::string& name);
  // The bridge network's reconciliation pass (netcfg BridgeNetwork::Reclaim) judged by what
  // this corrald knows; what it frees goes to the journal, prefixed by `why`.
  void ReclaimNetwork(const char* why);
  static std::vector<std::pair<std::string, uint64_t>> StartPhases(const Running& run);
  // Whether systemd's scope `unit` exists with processes in it (its cgroup is populated).
  bool ScopeHasProcesses(const std::string& unit);
  // Whether that scope is frozen (cgroup2's freezer, from outside the container).
  bool ScopeIsFrozen(const std::string& unit);
  void MarkRunning(ContainerRecord* record, pid_t leader, std::vector<std::string> addresses);
  void SetState(ContainerRecord* record, ContainerState state);
  void EmitChanged(ContainerRecord* record, std::vector<const char*> properties);
  std::string PathOf(const std::string& name) const;

  sd_event* event_;
  sd_bus* bus_;
  ServiceOptions options_;
  Registry registry_;
  std::unique_ptr<SystemdClient> systemd_;
  std::map<std::string, std::unique_ptr<Running>> running_;
  std::vector<sd_bus_slot*> slots_;
  UniqueFd private_listener_;
  sd_event_source* private_source_ = nullptr;
  std::map<sd_bus*, std::unique_ptr<PrivateConnection>> private_connections_;
  std::unique_ptr<ExecSocket> exec_socket_;
  std::set<PendingExec*> execs_;  // owned by their event sources' callbacks
  std::string cgroup2_root_;        // where cgroup2 is mounted, found at the first start
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SERVICE_H_
