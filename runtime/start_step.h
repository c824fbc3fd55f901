// Start steps: the per-concern pieces of a container start that live outside the runtime's
// own setup (cgroup placement, the bridge network, id maps), each hooking in at the same three
// points, as nsjail's initParent/initChildPreSync per module: before the clone (add mounts,
// env, fds to the spec; a cgroup to be born in), in the parent after the clone and before the
// child's go, and at cleanup. corral-run, the supervisor and tests assemble lists of them.
#ifndef CORRAL_RUNTIME_START_STEP_H_
#define CORRAL_RUNTIME_START_STEP_H_

#include <sys/types.h>

#include <vector>

#include "absl/status/status.h"
#include "runtime/phase_timer.h"
#include "runtime/spec.h"

namespace corral::runtime {

// The container as a step sees it in the parent: in its namespaces (id maps written), not yet
// past the go, so nothing of its own setup has run.
struct StartedChild {
  pid_t pid = -1;
  int pidfd = -1;
  // The clone put it straight into the cgroup of a step's CloneCgroupFd (CLONE_INTO_CGROUP);
  // false when the kernel refused that and the clone fell back to an ordinary one.
  bool in_clone_cgroup = false;
};

class StartStep {
 public:
  virtual ~StartStep() = default;

  // Before the clone (and before the spec is validated): adds what the container needs of this
  // step to `spec`. A step whose Prepare failed is not undone: it leaves nothing behind.
  virtual absl::Status Prepare(ContainerSpec& spec) { return absl::OkStatus(); }
  // A cgroup2 directory fd to clone the child into (CLONE_INTO_CGROUP), or -1. At most one
  // step of a list gives one.
  virtual int CloneCgroupFd() const { return -1; }
  // In the parent, after the clone, before the go. An error aborts the start (the child is
  // killed and reaped).
  virtual absl::Status InParent(const StartedChild& child) { return absl::OkStatus(); }
  // Undoes what Prepare and InParent did, after a failed start or once the container's last
  // process has exited. Tolerates having nothing to undo.
  virtual absl::Status Undo() { return absl::OkStatus(); }
  // The phase InParent's time is counted in (the timer's mark after it).
  virtual Phase InParentPhase() const = 0;
};

// An ordered list of steps (not owned), run in order and undone in reverse.
class StartSteps {
 public:
  void Add(StartStep* step) { steps_.push_back(step); }

  // Prepares each step in order. On an error the steps prepared before are undone.
  absl::Status Prepare(ContainerSpec& spec);
  // The one CloneCgroupFd of the list, or -1; an error when two steps give one.
  absl::Status CloneCgroupFd(int* fd) const;
  // Each step's InParent in order, marking its phase on `timer` (optional).
  absl::Status InParent(const StartedChild& child, PhaseTimer* timer);
  // Undoes every prepared step in reverse order, each even when one before failed; the first
  // error. Undoing twice undoes nothing the second time.
  absl::Status Undo();

 private:
  std::vector<StartStep*> steps_;
  size_t prepared_ = 0;  // steps_[0, prepared_) were prepared and are not undone yet
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_START_STEP_H_
