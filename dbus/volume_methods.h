// corrald's named volume methods on the Manager: CreateVolume, ListVolumes, RemoveVolume
// (dbus/interface.h), over the volume store (runtime/volume_store.h); "used by" comes from the
// containers' configs, and a volume a container's config names is not removed.
#ifndef CORRAL_DBUS_VOLUME_METHODS_H_
#define CORRAL_DBUS_VOLUME_METHODS_H_

#include <systemd/sd-bus.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "dbus/container_config.h"
#include "dbus/registry.h"

namespace corral::dbus {

// Answers one of the three methods (by the call's member name). The caller checked root.
int HandleVolumeCall(sd_bus_message* m, Registry& registry, sd_bus_error* error);

// A detached mount of each of the config's volumes, in order (VolumeStore::OpenTree).
absl::StatusOr<std::vector<UniqueFd>> OpenVolumeTrees(const ContainerConfig& config, const std::string& volumes_root);
std::vector<int> RawFds(const std::vector<UniqueFd>& fds);

// The containers whose config names volume `name`, sorted.
std::vector<std::string> VolumeUsers(Registry& registry, const std::string& name);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_VOLUME_METHODS_H_
