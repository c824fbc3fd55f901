// Capability plan for a container: which capabilities stay, applied in the child between
// clone and exec with raw prctl/capset (no allocation, so it is safe after a raw clone).
#ifndef CORRAL_RUNTIME_CAPABILITIES_H_
#define CORRAL_RUNTIME_CAPABILITIES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace corral::runtime {

struct CapabilityPlan {
  uint64_t keep = 0;  // bit N set: capability N stays
  int last_cap = 40;  // highest capability the running kernel knows
};

// Builds the plan from a list of capability numbers; reads /proc/sys/kernel/cap_last_cap.
CapabilityPlan MakeCapabilityPlan(const std::vector<int>& keep);

// Drops every capability not in the plan from the bounding set, clears the ambient set, sets
// permitted/effective to the kept ones and empties the inheritable set. Returns 0 or an errno;
// `failed_step` names what failed. Child side: async-signal-safe.
int ApplyCapabilities(const CapabilityPlan& plan, const char** failed_step);

// "cap_chown" for CAP_CHOWN, or "cap_<n>".
std::string CapabilityName(int cap);

// Parses "CapBnd:" style hex masks (for tests and `corral-run --print-caps`).
uint64_t ParseCapabilityMask(const std::string& hex);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CAPABILITIES_H_
