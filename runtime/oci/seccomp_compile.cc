// linux.seccomp compiled with libseccomp: actions, operators, architectures, defaultErrnoRet.
#include "runtime/oci/launch.h"


#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/fd_passing.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/capabilities.h"
#include "runtime/child_error.h"
#include "runtime/clone.h"
#include "runtime/console.h"
#include "runtime/devices.h"
#include "runtime/exec.h"
#include "runtime/oci/seccomp_cache.h"
#include "runtime/userns.h"


namespace corral::runtime::oci {

// ---- seccomp ----

namespace {

absl::StatusOr<uint32_t> SeccompAction(const std::string& action, std::optional<uint32_t> errno_ret,
                                       const std::string& field) {
  if (action == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": unsupported seccomp action \"", action, "\""));
}

absl::StatusOr<scmp_compare> SeccompOp(const std::string& op, const std::string& field) {
  static const std::pair<const char*, scmp_compare> kOps[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  for (const auto& [name, value] : kOps) {
    if (op == name) return value;
  }
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": unknown seccomp operator \"", op, "\""));
}

}  // namespace

absl::StatusOr<SeccompProgram> CompileOciSeccomp(const Seccomp& seccomp) {
  ASSIGN_OR_RETURN(uint32_t default_action,
                   SeccompAction(seccomp.default_action, seccomp.default_errno_ret, "linux.seccomp.defaultAction"));
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(default_action), seccomp_release);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  // A denied syscall of another architecture must not slip through: without a list, the
  // native one only (libseccomp kills foreign ABIs with SCMP_FLTATR_ACT_BADARCH).
  for (size_t i = 0; i < seccomp.architectures.size(); ++i) {
    std::string name = absl::AsciiStrToLower(absl::StripPrefix(seccomp.architectures[i], "SCMP_ARCH_"));
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("config.json: linux.seccomp.architectures[", i, "]: unknown \"", seccomp.architectures[i], "\""));
    }
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc != 0 && rc != -EEXIST) return ErrnoError(-rc, absl::StrCat("seccomp_arch_add ", name));
  }
  for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
    const SeccompRule& rule = seccomp.syscalls[i];
    std::string field = absl::StrCat("linux.seccomp.syscalls[", i, "]");
    ASSIGN_OR_RETURN(uint32_t action, SeccompAction(rule.action, rule.errno_ret, field + ".action"));
    if (action == default_action) continue;  // libseccomp refuses a rule that changes nothing
    std::vector<scmp_arg_cmp> args;
    bool repeated_index = false;
    for (size_t j = 0; j < rule.args.size(); ++j) {
      ASSIGN_OR_RETURN(scmp_compare op, SeccompOp(rule.args[j].op, absl::StrCat(field, ".args[", j, "].op")));
      for (const scmp_arg_cmp& seen : args) repeated_index |= seen.arg == rule.args[j].index;
      args.push_back(scmp_arg_cmp{rule.args[j].index, op, rule.args[j].value, rule.args[j].value_two});
    }
    for (const std::string& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // not a syscall here (as runc: skipped)
      // Comparisons of one argument twice cannot share a rule: one rule each (runc does the same).
      std::vector<std::vector<scmp_arg_cmp>> sets;
      if (repeated_index) {
        for (const scmp_arg_cmp& a : args) sets.push_back({a});
      } else {
        sets.push_back(args);
      }
      for (const auto& set : sets) {
        int rc = seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(set.size()), set.data());
        if (rc != 0 && rc != -EDOM && rc != -EEXIST) {
          return ErrnoError(-rc, absl::StrCat("config.json: ", field, ": seccomp_rule_add ", name));
        }
      }
    }
  }
  UniqueFd memfd(::memfd_create("corral-oci-seccomp", MFD_CLOEXEC));
  if (!memfd) return ErrnoError("memfd_create for the seccomp program");
  if (int rc = seccomp_export_bpf(ctx.get(), memfd.get()); rc != 0) return ErrnoError(-rc, "seccomp_export_bpf");
  off_t size = ::lseek(memfd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return absl::InternalError("seccomp_export_bpf: bad size");
  SeccompProgram program;
  program.instructions.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(memfd.get(), program.instructions.data(), static_cast<size_t>(size), 0) != size) {
    return ErrnoError("read back the seccomp program");
  }
  return program;
}

}  // namespace corral::runtime::oci
