// What a container created from an OCI image gets from it (tools/images/oci): its layers as
// the overlay's lower layers, and the image config's Entrypoint + Cmd, Env, WorkingDir, User
// and StopSignal as defaults for what the create call left out. Single-tree images (busybox,
// debian, tarballs, a directory) are left as they are.
#ifndef CORRAL_DBUS_IMAGE_DEFAULTS_H_
#define CORRAL_DBUS_IMAGE_DEFAULTS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/files.h"
#include "dbus/container_config.h"
#include "tools/images/oci/oci_format.h"

namespace corral::dbus {

// Reads IMAGES_ROOT/IMAGE/image.json when config->image names an OCI image, checks its
// layers are in the store, and fills in: image_layers (top first) and image_rootfs (the top
// layer); with no command, Entrypoint + Cmd (none of either: booted as before); the image's
// Env under the given one (a given KEY wins); cwd, uid and gid; stop_signal. A command given
// replaces Entrypoint and Cmd both (the image's entry point is not put before it).
absl::Status ApplyImageDefaults(const std::string& images_root, ContainerConfig* config);

// The image store's lock (images::oci::StoreLockPath), held from reading a named image until
// the container's config is written: an `image rm` running at the same time then either sees
// the container (and refuses) or has finished (and the create finds no image). Never waits:
// Unavailable, saying why, while an import or removal holds it. Nothing (no lock needed) for a
// directory given as the image or a name that is not in the store.
absl::StatusOr<std::optional<FileLock>> HoldImageStore(const std::string& images_root, const std::string& image);

// The same on a parsed record (for tests).
absl::Status ApplyImageRecord(const std::string& images_root, const images::oci::ImageRecord& record,
                              ContainerConfig* config);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_IMAGE_DEFAULTS_H_
