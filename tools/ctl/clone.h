// corralctl clone SRC NEW: a stopped container copied under a new name. corrald creates NEW
// with SRC's options (a new uid range and, on the bridge, a new address at its start; port
// forwards are not copied: two containers cannot hold one host port), then SRC's overlay upper
// layer is copied in (cp -a --reflink=auto: shared extents where the file system can) and its
// owners moved from SRC's host range to NEW's. The image is shared, not copied.
#ifndef CORRAL_TOOLS_CTL_CLONE_H_
#define CORRAL_TOOLS_CTL_CLONE_H_

#include <systemd/sd-bus.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace corral::tools {

// Moves every owner under `dir` (itself included, no mount crossed, no symlink followed) in
// [from, from + 65536) to the same offset from `to`; `from` 0 means ids below 65536. Setuid and
// setgid bits are kept.
absl::Status RemapOwners(const std::string& dir, uint32_t from, uint32_t to);

// The verb. `lib_root` is corrald's state (/var/lib/corral). Returns the exit status.
int CloneCommand(sd_bus* bus, const std::vector<std::string>& args, const std::string& lib_root);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_CLONE_H_
