#include "runtime/start_step.h"

namespace corral::runtime {

absl::Status StartSteps::Prepare(ContainerSpec& spec) {
  for (; prepared_ < steps_.size(); ++prepared_) {
    if (absl::Status status = steps_[prepared_]->Prepare(spec); !status.ok()) {
      Undo().IgnoreError();  // the error that matters is the one that stopped the start
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status StartSteps::CloneCgroupFd(int* fd) const {
  *fd = -1;
  for (const StartStep* step : steps_) {
    int candidate = step->CloneCgroupFd();
    if (candidate < 0) continue;
    if (*fd >= 0) return absl::InternalError("two start steps each give a cgroup to clone into");
    *fd = candidate;
  }
  return absl::OkStatus();
}

absl::Status StartSteps::InParent(const StartedChild& child, PhaseTimer* timer) {
  for (StartStep* step : steps_) {
    if (absl::Status status = step->InParent(child); !status.ok()) return status;
    if (timer != nullptr) timer->Mark(step->InParentPhase());
  }
  return absl::OkStatus();
}

absl::Status StartSteps::Undo() {
  absl::Status first;
  while (prepared_ > 0) {
    --prepared_;
    absl::Status status = steps_[prepared_]->Undo();
    if (first.ok() && !status.ok()) first = status;
  }
  return first;
}

}  // namespace corral::runtime
