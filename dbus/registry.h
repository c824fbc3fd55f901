// The containers corrald knows, without any bus: create (validate, resolve the image, persist
// the config), find, list, remove. The D-Bus layer (dbus/service.h) is an adapter over this, and
// unit tests drive it directly.
#ifndef CORRAL_DBUS_REGISTRY_H_
#define CORRAL_DBUS_REGISTRY_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "dbus/container_config.h"
#include "dbus/container_paths.h"
#include "runtime/idmap.h"

namespace corral::dbus {

// kBroken: its config did not load (ContainerRecord::problem says why); it is listed so that
// `rm` can clear it, and it never starts.
enum class ContainerState { kStopped, kStarting, kRunning, kStopping, kBroken };
absl::string_view ContainerStateName(ContainerState state);

struct ContainerRecord {
  ContainerConfig config;
  ContainerPaths paths;
  ContainerState state = ContainerState::kStopped;
  pid_t leader = 0;        // in corrald's PID namespace; 0 when not running
  pid_t supervisor = 0;
  std::vector<std::string> addresses;  // "10.77.0.2/16"
  int exit_status = -1;                // of the last run; -1: never ran
  bool ready = false;  // a booted init said READY=1 (sd_notify) in this run
  // Where the last start's time went, in order: phase name, microseconds (StartPhases).
  std::vector<std::pair<std::string, uint64_t>> start_phases;
  // What events and the restart policy need (dbus/lifecycle/lifecycle_events.cc): the OOM kills in this or
  // the last run, when it started and ended (CLOCK_REALTIME us, 0: not yet), the restarts in a
  // row by the policy, and whether the user stopped or killed it (never restarted then).
  uint64_t oom_kills = 0;
  int64_t started_at_usec = 0;
  int64_t finished_at_usec = 0;
  uint32_t restart_count = 0;
  bool stopped_by_user = false;
  std::string problem;  // kBroken: why its config did not load
  // Its limits this host's cgroups cannot enforce ("Memory: no memory controller"; the
  // UnenforcedLimits property; dbus/limit_controllers.h).
  std::vector<std::string> unenforced_limits;
  std::string unit() const { return "corral-" + config.name + ".scope"; }
};

struct RegistryPaths {
  std::string lib_root = "/var/lib/corral/containers";
  std::string run_root = "/run/corral/containers";
  std::string images_root = "/var/lib/corral/images";
  std::string volumes_root = "/var/lib/corral/volumes";  // runtime/volume_store.h
  // The user namespace pool's configuration (runtime/idmap.h); empty: IdPoolConfigPath().
  std::string idmap_config;
};

class Registry {
 public:
  explicit Registry(RegistryPaths paths) : paths_(std::move(paths)) {}

  // Reads every lib_root/NAME/config; one that does not load (empty, torn, unparsable, naming
  // another container) is kept as a kBroken record with the error, and reported in `problems`.
  absl::Status Load(std::vector<std::string>* problems);

  // Validates `config`, resolves its image ("busybox", "debian": images_root/NAME/rootfs; a
  // directory: itself) to image_rootfs, refuses a name in use (AlreadyExists) or a missing image
  // (NotFound), and persists it. Nothing is left behind on failure.
  absl::StatusOr<ContainerRecord*> Create(ContainerConfig config);

  // Forgets a stopped container and removes its directories (config, overlay upper layer),
  // and frees its uid range. FailedPrecondition while it is not stopped, NotFound when unknown.
  absl::Status Remove(const std::string& name);

  // For an unprivileged container, before each start: makes sure it has a uid range, recorded
  // in the pool as its own and in its config. A container created before corral had user
  // namespaces gets one now (its overlay upper layer is then shifted once by the supervisor);
  // one whose range the pool lost (a wiped state dir) gets it recorded again; one whose range
  // another holds now is refused (FailedPrecondition).
  absl::Status EnsureIdRange(ContainerRecord* record);

  // Problems with user namespaces on this host, as sentences: a pool configuration that does
  // not load, an image store that cannot be idmapped (its file system or the kernel).
  std::vector<std::string> CheckUserNamespaces() const;

  // The pool owner key of a container.
  static std::string IdOwner(const std::string& name) { return "ctr:" + name; }

  ContainerRecord* Find(const std::string& name);
  std::vector<ContainerRecord*> List();  // by name
  const RegistryPaths& paths() const { return paths_; }
  // The directories the last successful Create fsynced before returning (after the config's
  // own fsync): the durable points registry_test checks, so none can be dropped unnoticed.
  const std::vector<std::string>& last_create_synced_dirs() const { return last_create_synced_dirs_; }

 private:
  std::vector<std::string> last_create_synced_dirs_;
  absl::StatusOr<runtime::IdPool> Pool() const;

  RegistryPaths paths_;
  std::map<std::string, std::unique_ptr<ContainerRecord>> containers_;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_REGISTRY_H_
