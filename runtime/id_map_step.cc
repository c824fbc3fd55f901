#include "runtime/id_map_step.h"

#include <fcntl.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "runtime/userns.h"

namespace corral::runtime {

absl::Status IdMapStep::InParent(const StartedChild& child) {
  return Annotate(WriteIdMaps(child.pid, spec_.uid_map, spec_.gid_map), "write id maps");
}

absl::Status IdmappedRootfsStep::InParent(const StartedChild& child) {
  // The child's own user namespace carries the map: no helper process needed.
  UniqueFd userns_fd(::open(absl::StrCat("/proc/", child.pid, "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  if (!userns_fd.valid()) return ErrnoError("open the container's user namespace");
  ASSIGN_OR_RETURN(tree_, OpenIdmappedTree(spec_.rootfs, userns_fd.get(), /*read_only=*/false));
  return absl::OkStatus();
}

}  // namespace corral::runtime
