#include "runtime/seccomp_compiler.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral::runtime {

const std::vector<std::string>& DefaultDeniedSyscalls() {
  // Each of these either reaches kernel state shared with the host (modules, kexec, swap,
  // keyrings, accounting, clocks), or is a large attack surface containers do not need (bpf,
  // perf_event_open, userfaultfd, io_uring, whose requests also bypass every other rule of the
  // filter), or escapes the mount namespace (open_by_handle_at, the "shocker" escape). Most are
  // also gated by capabilities we drop; the filter is the second wall.
  static const std::vector<std::string> kDenied = {
      "kexec_load",     "kexec_file_load",   "init_module",  "finit_module", "delete_module",
      "open_by_handle_at", "name_to_handle_at", "swapon",    "swapoff",      "keyctl",
      "add_key",        "request_key",       "bpf",          "perf_event_open", "userfaultfd",
      "acct",           "lookup_dcookie",    "iopl",         "ioperm",       "uselib",
      "quotactl",       "nfsservctl",        "_sysctl",      "settimeofday", "clock_settime",
      "clock_adjtime",  "vm86",         "vm86old",      "syslog",
      "fanotify_init",  "get_kernel_syms", "query_module", "create_module",
      "io_uring_setup", "io_uring_enter",  "io_uring_register",
  };
  return kDenied;
}

const char* SeccompProfileName(SeccompProfile profile) {
  return profile == SeccompProfile::kBoot ? "boot" : "default";
}

namespace {

// Adds one rule; a syscall this libseccomp or one of the added ABIs does not have is skipped
// (-EDOM/-EINVAL/-EFAULT), the other ABIs still get it.
absl::Status AddRule(scmp_filter_ctx ctx, uint32_t action, const char* name, std::vector<scmp_arg_cmp> args = {}) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return absl::OkStatus();  // not a syscall on this architecture
  int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned int>(args.size()), args.data());
  if (rc != 0 && rc != -EDOM && rc != -EINVAL && rc != -EFAULT) {
    return ErrnoError(-rc, absl::StrCat("seccomp_rule_add ", name));
  }
  return absl::OkStatus();
}

// socket(2) takes ints: the kernel drops the upper half of a 64-bit register, so the filter
// compares the lower half only (an equality on all 64 bits would let 0x1'00000028 through as
// AF_VSOCK).
scmp_arg_cmp IntArgEquals(unsigned int arg, uint32_t value) {
  return scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, value};
}

}  // namespace

absl::StatusOr<SeccompProgram> CompileSeccompProgram(SeccompProfile profile) {
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
    RETURN_IF_ERROR(AddRule(ctx.get(), SCMP_ACT_ERRNO(EPERM), name.c_str()));
  }
  // vsock reaches the hypervisor and host services and knows no network namespace; the audit
  // socket writes (CAP_AUDIT_WRITE, a default capability) into the host's audit log. The errnos
  // are a kernel's without them, which libaudit, sudo and systemd take as "no audit here".
  // On the 32-bit x86 ABI, libseccomp also applies these to socketcall(SYS_SOCKET, ...), whose
  // arguments are in memory: there every socketcall(SYS_SOCKET) fails (fail closed), and only
  // the direct socket syscall (Linux 4.3) is filtered by family.
  RETURN_IF_ERROR(AddRule(ctx.get(), SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", {IntArgEquals(0, AF_VSOCK)}));
  RETURN_IF_ERROR(AddRule(ctx.get(), SCMP_ACT_ERRNO(EPROTONOSUPPORT), "socket",
                          {IntArgEquals(0, AF_NETLINK), IntArgEquals(2, NETLINK_AUDIT)}));
  if (profile == SeccompProfile::kDefault) {
    // A user namespace gives its creator every capability over new mount, network (nf_tables)
    // and other namespaces: the kernel attack surface behind most container escapes of recent
    // years, and the way around /proc masking. Flags are unsigned long: all 64 bits count.
    scmp_arg_cmp newuser{0, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER};
    RETURN_IF_ERROR(AddRule(ctx.get(), SCMP_ACT_ERRNO(EPERM), "unshare", {newuser}));
    RETURN_IF_ERROR(AddRule(ctx.get(), SCMP_ACT_ERRNO(EPERM), "clone", {newuser}));
    // clone3 passes its flags in a struct the filter cannot read: ENOSYS, as a kernel before
    // 5.3 would say, makes glibc (pthread_create, posix_spawn), Go and corral's own
    // CloneWithPidfd fall back to clone(2), where the rule above applies.
    RETURN_IF_ERROR(AddRule(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), "clone3"));
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
