// corrald's state directories and who may enter them: /var/lib/corral and /run/corral are
// traversable only (0711), containers/ and images/ (and every image) are root's alone (0700).
#ifndef CORRAL_DBUS_STATE_DIRS_H_
#define CORRAL_DBUS_STATE_DIRS_H_

#include <string>

#include "absl/status/status.h"
#include "dbus/registry.h"

namespace corral::dbus {

// Creates what is missing and tightens what an older corral (or a hand-made directory) left
// open: the parents of lib_root, images_root and run_root lose group/other read and write
// (0711 at most), lib_root, images_root, run_root and each directory in images_root lose every
// group/other bit (0700). Nothing is ever loosened. An image's tree under its 0700 directory
// keeps its own modes: setuid binaries stay setuid for the containers, but no other user of the
// host can reach them (the moby CVE-2021-41091 class).
absl::Status SecureStateDirectories(const RegistryPaths& paths);

// One directory: created with `mode` when missing, else its group/other bits are cut to those
// of `mode`. Refuses a symlink. Exposed for tests.
absl::Status EnsureDirectoryAtMost(const std::string& path, mode_t mode);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_STATE_DIRS_H_
