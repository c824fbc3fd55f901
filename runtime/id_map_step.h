// The runtime's own start steps for a container in a user namespace: its id maps, written by
// the parent once the child exists, and its idmapped rootfs (spec.idmap_rootfs), made from
// the child's own user namespace and handed over with the go (child_sync.h, GoFd::kRootfsTree).
#ifndef CORRAL_RUNTIME_ID_MAP_STEP_H_
#define CORRAL_RUNTIME_ID_MAP_STEP_H_

#include "common/unique_fd.h"
#include "runtime/spec.h"
#include "runtime/start_step.h"

namespace corral::runtime {

class IdMapStep : public StartStep {
 public:
  explicit IdMapStep(const ContainerSpec& spec) : spec_(spec) {}
  absl::Status InParent(const StartedChild& child) override;
  Phase InParentPhase() const override { return Phase::kIdMaps; }

 private:
  const ContainerSpec& spec_;
};

class IdmappedRootfsStep : public StartStep {
 public:
  explicit IdmappedRootfsStep(const ContainerSpec& spec) : spec_(spec) {}
  absl::Status InParent(const StartedChild& child) override;
  Phase InParentPhase() const override { return Phase::kIdmappedRootfs; }
  // The detached tree for the go; closed once sent.
  UniqueFd& tree() { return tree_; }

 private:
  const ContainerSpec& spec_;
  UniqueFd tree_;
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_ID_MAP_STEP_H_
