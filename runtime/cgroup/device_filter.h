// The device filter of a cgroup: an allow/deny rule list (OCI linux.resources.devices) compiled
// to a BPF_PROG_TYPE_CGROUP_DEVICE program and attached to a cgroup2 directory, as crun and runc do.
#ifndef CORRAL_RUNTIME_CGROUP_DEVICE_FILTER_H_
#define CORRAL_RUNTIME_CGROUP_DEVICE_FILTER_H_

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace corral::runtime {

// One rule: type 'a' (any), 'c' or 'b'; major/minor -1 for any; access a subset of "rwm".
struct DeviceAccessRule {
  bool allow = false;
  char type = 'a';
  int64_t major = -1;
  int64_t minor = -1;
  std::string access = "rwm";
};

// What the program decides, computed in C++ (the reference the compiler is tested against):
// each requested access ('r', 'w', 'm') is decided by the last rule that matches the device
// and names that access; none matching denies. A request is allowed when all its accesses are.
bool DeviceAccessAllowed(const std::vector<DeviceAccessRule>& rules, char type, uint32_t major, uint32_t minor,
                         const std::string& access);

// The program: ctx is struct bpf_cgroup_dev_ctx; returns 1 to allow, 0 to deny.
std::vector<struct bpf_insn> CompileDeviceFilter(const std::vector<DeviceAccessRule>& rules);

// Loads the program for `rules` and attaches it to the cgroup2 directory `cgroup_fd`
// (BPF_F_ALLOW_MULTI), then detaches the device programs that were there before (an update
// replaces the filter; there is no moment without one). Errors name the bpf() command.
absl::Status AttachDeviceFilter(int cgroup_fd, const std::vector<DeviceAccessRule>& rules);

// A cgroup v1 devices controller directory: "a" denied, then the rules written in order.
absl::Status ApplyV1DeviceRules(const std::string& dir, const std::vector<DeviceAccessRule>& rules);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CGROUP_DEVICE_FILTER_H_
