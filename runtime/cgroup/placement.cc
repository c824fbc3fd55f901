#include "runtime/cgroup/placement.h"

#include "common/errors.h"
#include "common/status_macros.h"

namespace corral::runtime {

absl::Status CgroupPlacement::Prepare(ContainerSpec&) {
  ASSIGN_OR_RETURN(dirfd_, leaf_.OpenDirectory());
  return absl::OkStatus();
}

absl::Status CgroupPlacement::InParent(const StartedChild& child) {
  if (child.in_clone_cgroup) return absl::OkStatus();
  return Annotate(leaf_.Enter(child.pid), "move the container into its payload leaf");
}

absl::Status CgroupPlacement::Undo() {
  // The leaf goes with its scope (systemd removes it once empty); only our fd is ours to drop.
  dirfd_.reset();
  return absl::OkStatus();
}

}  // namespace corral::runtime
