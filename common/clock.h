// CLOCK_MONOTONIC in microseconds: the clock of corrald's deadlines, retries and rate limits
// (one definition; the journal seam and the retry timers each had their own).
#ifndef CORRAL_COMMON_CLOCK_H_
#define CORRAL_COMMON_CLOCK_H_

#include <stdint.h>
#include <time.h>

namespace corral {

inline uint64_t MonotonicUsec() {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
}

}  // namespace corral

#endif  // CORRAL_COMMON_CLOCK_H_
