#include "runtime/seccomp_compiler.h"

#include <errno.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/unique_fd.h"

namespace corral::runtime {

const std::vector<std::string>& DefaultDeniedSyscalls() {
  // Each of these either reaches kernel state shared with the host (modules, kexec, swap,
  // keyrings, accounting, clocks), or is a large attack surface containers do not need (bpf,
  // perf_event_open, userfaultfd), or escapes the mount namespace (open_by_handle_at, the
  // "shocker" escape). Most are also gated by capabilities we drop; the filter is the second wall.
  static const std::vector<std::string> kDenied = {
      "kexec_load",     "kexec_file_load",   "init_module",  "finit_module", "delete_module",
      "open_by_handle_at", "name_to_handle_at", "swapon",    "swapoff",      "keyctl",
      "add_key",        "request_key",       "bpf",          "perf_event_open", "userfaultfd",
      "acct",           "lookup_dcookie",    "iopl",         "ioperm",       "uselib",
      "quotactl",       "nfsservctl",        "_sysctl",      "settimeofday", "clock_settime",
      "clock_adjtime",  "vm86",         "vm86old",      "syslog",
      "fanotify_init",  "get_kernel_syms", "query_module", "create_module",
  };
  return kDenied;
}

absl::StatusOr<SeccompProgram> CompileDefaultSeccompProgram() {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW), seccomp_release);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  // A binary tree of syscall numbers rather than a chain: the kernel runs the filter for every
  // syscall number of every ABI when it is installed (its per-syscall action cache), so a
  // shorter path per number makes every container start cheaper.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return ErrnoError(-rc, "seccomp_attr_set SCMP_FLTATR_CTL_OPTIMIZE");
  }
#if defined(__x86_64__)
  // Without these, a 32-bit int 0x80 entry would reach the kernel unfiltered by name.
  for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc != 0 && rc != -EEXIST) return ErrnoError(-rc, "seccomp_arch_add");
  }
#endif
  for (const std::string& name : DefaultDeniedSyscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not a syscall on this architecture
    int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0);
    // -EDOM/-EINVAL: not available on one of the added ABIs; the others still get it.
    if (rc != 0 && rc != -EDOM && rc != -EINVAL && rc != -EFAULT) {
      return ErrnoError(-rc, absl::StrCat("seccomp_rule_add ", name));
    }
  }
  UniqueFd memfd(::memfd_create("corral-seccomp", MFD_CLOEXEC));
  if (!memfd) return ErrnoError("memfd_create for the seccomp program");
  int rc = seccomp_export_bpf(ctx.get(), memfd.get());
  if (rc != 0) return ErrnoError(-rc, "seccomp_export_bpf");
  off_t size = ::lseek(memfd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) {
    return absl::InternalError(absl::StrCat("seccomp_export_bpf wrote ", size, " bytes"));
  }
  SeccompProgram program;
  program.instructions.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(memfd.get(), program.instructions.data(), static_cast<size_t>(size), 0) != size) {
    return ErrnoError("read back the seccomp program");
  }
  return program;
}

}  // namespace corral::runtime
