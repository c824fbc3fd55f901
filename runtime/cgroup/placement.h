// The start step that puts a container into its cgroup: born there with CLONE_INTO_CGROUP
// (the leaf's dirfd, opened before the clone), or moved there by a cgroup.procs write in the
// parent before the go when the kernel refused that, in crun's order. Either way the child
// unshares its cgroup namespace only after, so the leaf is the root it sees.
#ifndef CORRAL_RUNTIME_CGROUP_PLACEMENT_H_
#define CORRAL_RUNTIME_CGROUP_PLACEMENT_H_

#include "common/unique_fd.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/start_step.h"

namespace corral::runtime {

class CgroupPlacement : public StartStep {
 public:
  explicit CgroupPlacement(Cgroup leaf) : leaf_(std::move(leaf)) {}

  absl::Status Prepare(ContainerSpec& spec) override;
  int CloneCgroupFd() const override { return dirfd_.get(); }
  absl::Status InParent(const StartedChild& child) override;
  absl::Status Undo() override;
  Phase InParentPhase() const override { return Phase::kPayloadCgroup; }

  const Cgroup& leaf() const { return leaf_; }

 private:
  Cgroup leaf_;
  UniqueFd dirfd_;
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CGROUP_PLACEMENT_H_
