// PhaseTimer: records how long each phase of a start took (clone, rootfs, network, exec...),
// so benchmarks can attribute a slow start instead of guessing.
#ifndef CORRAL_RUNTIME_PHASE_TIMER_H_
#define CORRAL_RUNTIME_PHASE_TIMER_H_

#include <time.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace corral::runtime {

class PhaseTimer {
 public:
  PhaseTimer() : last_ns_(NowNs()) {}
  // Closes the phase that ran since the previous mark and names it.
  void Mark(std::string phase) {
    int64_t now = NowNs();
    phases_.emplace_back(std::move(phase), now - last_ns_);
    last_ns_ = now;
  }
  const std::vector<std::pair<std::string, int64_t>>& phases() const { return phases_; }

  static int64_t NowNs() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }

 private:
  int64_t last_ns_;
  std::vector<std::pair<std::string, int64_t>> phases_;
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_PHASE_TIMER_H_
