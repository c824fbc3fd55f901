// corrald's D-Bus face: the org.corral1.Manager object (manager_*.cc) and one
// org.corral1.Container object per container (container_object.h), on the system bus and on
// the private socket (private_socket.h). It speaks only the bus: each handler reads its
// arguments (options.h), validates, authorizes (caller.h), and calls the registry or the
// lifecycle (lifecycle/lifecycle.h), whose Status becomes the reply or the contract's error
// (bus_errors.h). Starts, stops and execs reply later, from the event loop, so the loop never
// waits on a container. The lifecycle tells it what changed (LifecycleObserver), and it emits
// PropertiesChanged.
#ifndef CORRAL_DBUS_SERVICE_H_
#define CORRAL_DBUS_SERVICE_H_

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dbus/bus_ptr.h"
#include "dbus/container_stats.h"
#include "dbus/exec_socket.h"
#include "dbus/lifecycle/launcher.h"
#include "dbus/lifecycle/lifecycle.h"
#include "dbus/private_socket.h"
#include "dbus/registry.h"
#include "dbus/systemd_client.h"

namespace corral::dbus {

struct ServiceOptions {
  RegistryPaths paths;
  std::string network_config = "/etc/corral/network.conf";
  uint32_t default_stop_timeout_seconds = 10;
  // A start that has not reported running by then is failed and cleaned.
  uint32_t start_timeout_seconds = 90;
};

class Service : public LifecycleObserver {
 public:
  // Loads the registry, finds running containers again, and publishes the objects on `bus`
  // (the caller requests the bus name afterwards, when everything answers).
  static absl::StatusOr<std::unique_ptr<Service>> Create(sd_event* event, sd_bus* bus, ServiceOptions options);
  ~Service() override;

  Registry& registry() { return registry_; }

  // Also serves the same objects on a private socket (private_socket.h).
  absl::Status ListenPrivate(const std::string& path);
  // Serves `corralctl exec` on the exec socket too (exec_wire.h): the Exec method's work for
  // root's client that needs no D-Bus.
  absl::Status ListenExec(const std::string& path);

  // LifecycleObserver: PropertiesChanged and InterfacesRemoved on the system bus.
  void PropertiesChanged(const ContainerRecord& record, std::vector<const char*> properties) override;
  void Removing(const ContainerRecord& record) override;

 private:
  struct ExecCall;  // manager_run.cc

  Service(sd_event* event, sd_bus* bus, ServiceOptions options);
  absl::Status Publish(sd_bus* bus, std::vector<SlotPtr>* slots);

  static const sd_bus_vtable kManagerVtable[];

  // Method handlers (sd-bus vtable callbacks). manager_object.cc:
  static int CreateContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int RemoveContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int ListContainers(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int GetContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int CheckConfig(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int VolumeCall(sd_bus_message* m, void* userdata, sd_bus_error* error);  // Create/List/RemoveVolume
  // manager_run.cc:
  static int StartContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int StopContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int StopContainerWithTimeout(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int KillContainer(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int OpenConsole(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int Exec(sd_bus_message* m, void* userdata, sd_bus_error* error);
  // manager_stats.cc: GetStats and Top (container_stats.h does the reading), open to every
  // caller; SetLimits, root's.
  static int GetStats(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int Top(sd_bus_message* m, void* userdata, sd_bus_error* error);
  static int SetLimits(sd_bus_message* m, void* userdata, sd_bus_error* error);

  // The common start of a method on one container: the caller must be root, the name valid,
  // the container known. nullptr with *r set to the error to return otherwise.
  ContainerRecord* Target(sd_bus_message* m, sd_bus_error* error, int* r);
  // The running container `m` names, for a method every user may call.
  ContainerRecord* RunningTarget(sd_bus_message* m, sd_bus_error* error, int* r, StatsRequest* request);
  static int StatsError(const StatsRequest& request, const absl::Status& status, sd_bus_error* error);
  int Stop(sd_bus_message* m, ContainerRecord* record, std::optional<uint32_t> timeout_seconds, sd_bus_error* error);
  // RemoveContainer's attempt, tried again from a timer while the leases lock is held
  // elsewhere (*busy: try again), until `deadline_usec` (CLOCK_MONOTONIC).
  int FinishRemove(sd_bus_message* m, const std::string& name, uint64_t deadline_usec, sd_bus_error* error,
                   bool* busy);
  // Exec's work once its arguments are checked, for the bus and the exec socket alike
  // (manager_run.cc): the exec under way, its caller still to be set.
  absl::StatusOr<ExecCall*> BeginExec(ContainerRecord* record, runtime::AttachSpec spec, UniqueFd pty_receiver);
  void ExecFromSocket(ExecSocketCall call);
  void CallerDisconnected(sd_bus* bus);  // a private connection's peer went away
  // At the end: execs under way end unanswered (their attaches are killed); commands that
  // started run on.
  void DropExecs();

  sd_event* event_;
  sd_bus* bus_;
  ServiceOptions options_;
  Registry registry_;
  std::unique_ptr<SystemdClient> systemd_;
  std::unique_ptr<ForkingLauncher> launcher_;
  std::unique_ptr<Lifecycle> lifecycle_;
  std::vector<SlotPtr> slots_;
  std::unique_ptr<PrivateSocket> private_socket_;
  std::unique_ptr<ExecSocket> exec_socket_;
  std::set<ExecCall*> execs_;  // owned here; each erases itself when done
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SERVICE_H_
