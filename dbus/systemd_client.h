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
#include <string>

#include "absl/status/statusor.h"

namespace corral::dbus {

struct ScopeSpec {
  std::string unit;  // corral-NAME.scope
  std::string description;
  pid_t pid = 0;     // the first process of the scope (the container's supervisor)
  uint64_t memory_max = 0;  // 0: not set
  uint64_t tasks_max = 0;
  uint64_t cpu_weight = 0;
};

class SystemdClient {
 public:
  using Done = std::function<void(absl::Status)>;

  // Subscribes to the manager's job signals (JobRemoved says when a scope is really there).
  static absl::StatusOr<std::unique_ptr<SystemdClient>> Create(sd_bus* bus);
  ~SystemdClient();

  // StartTransientUnit of a scope in machine.slice with Delegate=yes and the limits asked for;
  // `done` runs once its job is removed: OK when the job's result is "done".
  void StartScope(const ScopeSpec& spec, Done done);

  // Registers a running container with machined (so machinectl shows it). Calls `done` with
  // Unavailable when machined is not there.
  void RegisterMachine(const std::string& name, pid_t leader, const std::string& root_directory, Done done);

 private:
  explicit SystemdClient(sd_bus* bus) : bus_(bus) {}
  static int OnJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error* error);
  void JobFinished(const std::string& job, const std::string& result);

  // dbus-daemon allows one connection 128 calls awaiting replies; 200 containers starting at
  // once would pass that. Calls beyond kMaxInFlight wait here and go out as replies come in.
  static constexpr int kMaxInFlight = 64;
  void CallAsync(sd_bus_message* call, std::function<void(sd_bus_message* reply)> on_reply);
  void SendNext();
  struct Queued {
    sd_bus_message* call;
    std::function<void(sd_bus_message*)> on_reply;
  };
  std::deque<Queued> queued_;
  int in_flight_ = 0;

  sd_bus* bus_;
  sd_bus_slot* job_removed_slot_ = nullptr;
  std::map<std::string, Done> waiting_;          // job path -> who waits for it
  std::map<std::string, std::string> finished_;  // JobRemoved that came before the call's reply
};

// An sd_bus_error with its message, as a Status.
absl::Status BusError(const sd_bus_error* error, int r, absl::string_view what);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SYSTEMD_CLIENT_H_
