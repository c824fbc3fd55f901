#include "runtime/capabilities.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"

namespace corral::runtime {

CapabilityPlan MakeCapabilityPlan(const std::vector<int>& keep) {
  CapabilityPlan plan;
  for (int cap : keep) plan.keep |= uint64_t{1} << cap;
  // Kernels newer than our headers may know more capabilities; they must be dropped too.
  auto text = ReadFile("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &last) && last >= 0 && last < 64) {
    plan.last_cap = last;
  } else {
    plan.last_cap = CAP_LAST_CAP;
  }
  return plan;
}

int ApplyCapabilities(const CapabilityPlan& plan, const char** failed_step) {
  for (int cap = 0; cap <= plan.last_cap; ++cap) {
    if (plan.keep & (uint64_t{1} << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      *failed_step = "prctl(PR_CAPBSET_DROP)";
      return errno;
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    *failed_step = "prctl(PR_CAP_AMBIENT_CLEAR_ALL)";
    return errno;
  }
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  // What we do not hold ourselves cannot be granted (capset would fail with EPERM): a runtime
  // started without, say, CAP_SYS_RESOURCE gives its containers the rest of the list.
  struct __user_cap_data_struct held[2] = {};
  uint64_t permitted = ~uint64_t{0};
  if (::syscall(SYS_capget, &header, held) == 0) {
    permitted = uint64_t{held[0].permitted} | (uint64_t{held[1].permitted} << 32);
  }
  for (int i = 0; i < 2; ++i) {
    uint32_t word = static_cast<uint32_t>((plan.keep & permitted) >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    // Inheritable stays empty: with it, a non-root process of the container that execs a file
    // carrying inheritable file capabilities would get them back. Root keeps its set across
    // execve through the bounding set; nobody else needs it.
    data[i].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data) != 0) {
    *failed_step = "capset";
    return errno;
  }
  return 0;
}

std::string CapabilityName(int cap) {
  static constexpr const char* kNames[] = {
      "cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid",
      "cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable",
      "cap_net_bind_service", "cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock",
      "cap_ipc_owner", "cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace",
      "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource",
      "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write",
      "cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog",
      "cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
      "cap_checkpoint_restore"};
  if (cap >= 0 && cap < static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return kNames[cap];
  return absl::StrCat("cap_", cap);
}

uint64_t ParseCapabilityMask(const std::string& hex) {
  return std::strtoull(hex.c_str(), nullptr, 16);
}

}  // namespace corral::runtime
