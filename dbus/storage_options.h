// The storage options of CreateContainer (Binds, IdmappedBinds, Tmpfs, Volumes), read off the
// bus into a ContainerConfig and checked against the host as far as create can: a bind's
// source must exist now and lie outside corral's state.
#ifndef CORRAL_DBUS_STORAGE_OPTIONS_H_
#define CORRAL_DBUS_STORAGE_OPTIONS_H_

#include <string>

#include <systemd/sd-bus.h>

#include "absl/status/status.h"
#include "dbus/container_config.h"

namespace corral::dbus {

bool IsStorageOption(const std::string& key);

// Reads the variant of option `key` (positioned at it; the caller leaves the dict entry).
// Returns a negative errno for a malformed message; a value that is wrong is reported in
// *invalid (InvalidArgument, naming the option and the value) with 0 returned.
int ReadStorageOption(sd_bus_message* m, const std::string& key, ContainerConfig* config, absl::Status* invalid);

// At create: every bind source exists on the host and is not inside corral's own state, and
// every volume exists in the store at `volumes_root`.
absl::Status CheckStorageOnHost(const ContainerConfig& config, const std::string& volumes_root);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_STORAGE_OPTIONS_H_
