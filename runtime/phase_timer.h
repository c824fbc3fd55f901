// PhaseTimer: records how long each phase of a start took (clone, rootfs, network, exec...),
// so benchmarks can attribute a slow start instead of guessing. The phases are one enum (as
// sandbox2's SetupLatencyBreakdown), so a reader compares values, never the names it prints.
#ifndef CORRAL_RUNTIME_PHASE_TIMER_H_
#define CORRAL_RUNTIME_PHASE_TIMER_H_

#include <time.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace corral::runtime {

// Every phase a start of corral's goes through, in about the order they run. The names
// (PhaseName) are what StartPhases and corral-run --phases show.
enum class Phase {
  // corrald (dbus/lifecycle)
  kForkSupervisor,
  kScope,
  kSupervisor,  // the supervisor's whole share, broken down by the phases it reports
  kSupervisorReport,
  kMachinedRegistration,
  // the supervisor (dbus/supervisor): the rootfs phases run while systemd starts the scope,
  // kWaitForGo is what is left of that wait, the rest runs in the scope
  kWaitForGo,
  kCgroupLeaves,
  kIdmappedImage,
  kLayeredImage,
  kOverlayRootfs,
  kConsoleAndBootFiles,
  kNetworkPrepare,
  kStateFile,
  // the runtime (runtime/container.cc) and its start steps
  kBindTrees,
  kPrepare,
  kBindStage,
  kClone,
  kIdMaps,
  kIdmappedRootfs,
  kPayloadCgroup,
  kNetworkAttach,
  kSetupAndExec,
};

// "fork supervisor", "clone", "network attach", ...
absl::string_view PhaseName(Phase phase);

class PhaseTimer {
 public:
  PhaseTimer() : last_ns_(NowNs()) {}
  // Closes the phase that ran since the previous mark and names it.
  void Mark(Phase phase) {
    int64_t now = NowNs();
    phases_.emplace_back(phase, now - last_ns_);
    last_ns_ = now;
  }
  const std::vector<std::pair<Phase, int64_t>>& phases() const { return phases_; }

  static int64_t NowNs() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }

 private:
  int64_t last_ns_;
  std::vector<std::pair<Phase, int64_t>> phases_;
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_PHASE_TIMER_H_
