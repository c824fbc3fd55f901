// What the container lifecycle (lifecycle.h) needs from the world, as narrow interfaces: the
// scope manager (systemd1: transient scopes), the machine registry (machine1), the supervisor
// launcher (fork, adopt after a restart, clean up after one died), and an observer told when a
// container's properties change (the D-Bus layer emits PropertiesChanged). corrald implements
// them over the bus (dbus/systemd_client.h, lifecycle/launcher.h); unit tests with fakes.
#ifndef CORRAL_DBUS_LIFECYCLE_INTERFACES_H_
#define CORRAL_DBUS_LIFECYCLE_INTERFACES_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "dbus/registry.h"
#include "dbus/supervisor/supervisor.h"

namespace corral::dbus {

using Done = std::function<void(absl::Status)>;

struct ScopeSpec {
  std::string unit;  // corral-NAME.scope
  std::string description;
  pid_t pid = 0;     // the first process of the scope (the container's supervisor)
  uint64_t memory_max = 0;  // 0: not set
  uint64_t tasks_max = 0;
  uint64_t cpu_weight = 0;
  uint64_t cpu_quota_per_sec_usec = 0;  // CPUQuotaPerSecUSec; 0: none
  // DevicePolicy=closed with these DeviceAllow= entries (node or "char-pts", access): the
  // kernel-enforced device allow-list (runtime::SystemdDeviceAllow). Always closed: a scope
  // of corrald's never gets systemd's default of every device.
  std::vector<std::pair<std::string, std::string>> device_allow;
};

// systemd's transient scopes, and what their cgroups say.
class ScopeManager {
 public:
  virtual ~ScopeManager() = default;
  // Starts scope `spec` with its process; `done` once the scope really exists (its job is done).
  virtual void StartScope(const ScopeSpec& spec, Done done) = 0;
  // SIGKILL to whatever is left in `unit`, and stops it, without waiting.
  virtual void KillAndStopScope(const std::string& unit) = 0;
  // Changes a running scope's t-valued limits (MemoryMax, TasksMax, ...) until it stops.
  virtual void SetUnitProperties(const std::string& unit,
                                 const std::vector<std::pair<std::string, uint64_t>>& properties, Done done) = 0;
  // Whether scope `unit` exists with processes in it; whether it is frozen (from outside).
  virtual bool ScopeHasProcesses(const std::string& unit) = 0;
  virtual bool ScopeIsFrozen(const std::string& unit) = 0;
};

// A running container as machined would list it.
struct MachineLeader {
  pid_t leader = 0;
  std::string root_directory;
};

// systemd-machined's registrations (machinectl list).
class MachineRegistry {
 public:
  virtual ~MachineRegistry() = default;
  virtual void RegisterMachine(const std::string& name, pid_t leader, const std::string& root_directory,
                               Done done) = 0;
  virtual void UnregisterMachine(const std::string& name) = 0;
  // Every machine of corral's whose name is not in `keep` goes; `freed` hears each one.
  virtual void UnregisterMachinesExcept(std::set<std::string> keep,
                                        std::function<void(const std::string&)> freed) = 0;
  // Registers every container of `running` that machined does not list (one adopted by a
  // corrald whose predecessor died between the supervisor's "ok" and machined's answer);
  // `registered` hears each name and the outcome.
  virtual void RegisterMissingMachines(std::map<std::string, MachineLeader> running,
                                       std::function<void(const std::string&, absl::Status)> registered) = 0;
};

// A supervisor found again after corrald's restart.
struct AdoptedSupervisor {
  pid_t pid = 0;
  UniqueFd pidfd;
  pid_t leader = 0;
  std::vector<std::string> addresses;
};

// The per-container supervisor processes (dbus/supervisor/).
class SupervisorLauncher {
 public:
  virtual ~SupervisorLauncher() = default;
  // Opens what the start needs outside the scope (volumes) and forks the supervisor.
  virtual absl::StatusOr<SupervisorHandle> Launch(const ContainerRecord& record) = 0;
  // The supervisor of a container that runs without this corrald having started it (its state
  // file, or its scope's cgroup tree): NotFound when it does not run. Undoes what a dead one
  // left (a stale state file, its rootfs mount).
  virtual absl::StatusOr<AdoptedSupervisor> Adopt(const ContainerRecord& record) = 0;
  // After a supervisor is gone: what it could not undo itself (its rootfs mount after a
  // SIGKILL; with `clean` false also its idmapped lower mount, state file and console socket;
  // with `remove_run_dir` its run directory).
  virtual void CleanUpAfter(const ContainerRecord& record, bool clean, bool remove_run_dir) = 0;
  // The exit status its container's run left (-1: none).
  virtual int ExitStatusOf(const ContainerRecord& record) = 0;
};

// Told when a container's D-Bus-visible properties change, and right before one is removed.
class LifecycleObserver {
 public:
  virtual ~LifecycleObserver() = default;
  virtual void PropertiesChanged(const ContainerRecord& record, std::vector<const char*> properties) = 0;
  virtual void Removing(const ContainerRecord& record) = 0;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIFECYCLE_INTERFACES_H_
