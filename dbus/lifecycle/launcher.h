// The real SupervisorLauncher (interfaces.h): forks supervisors (dbus/supervisor/), finds
// running ones again from their state files or their scopes' cgroup trees, and undoes on the
// host what a supervisor that died could not.
#ifndef CORRAL_DBUS_LIFECYCLE_LAUNCHER_H_
#define CORRAL_DBUS_LIFECYCLE_LAUNCHER_H_

#include <string>

#include "dbus/lifecycle/interfaces.h"

namespace corral::dbus {

class ForkingLauncher : public SupervisorLauncher {
 public:
  ForkingLauncher(std::string network_config, std::string volumes_root)
      : network_config_(std::move(network_config)), volumes_root_(std::move(volumes_root)) {}

  absl::StatusOr<SupervisorHandle> Launch(const ContainerRecord& record) override;
  absl::StatusOr<AdoptedSupervisor> Adopt(const ContainerRecord& record) override;
  void CleanUpAfter(const ContainerRecord& record, bool clean, bool remove_run_dir) override;
  int ExitStatusOf(const ContainerRecord& record) override;

 private:
  std::string network_config_;
  std::string volumes_root_;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIFECYCLE_LAUNCHER_H_
