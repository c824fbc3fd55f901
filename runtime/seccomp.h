// The default seccomp profile: a deny list of syscalls a container has no business making
// (kernel modules, kexec, keyrings, bpf, perf, open_by_handle_at, swap, ...) that fail with
// EPERM. Compiled with libseccomp in the parent; the child only installs the ready BPF.
#ifndef CORRAL_RUNTIME_SECCOMP_H_
#define CORRAL_RUNTIME_SECCOMP_H_

#include <linux/filter.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corral::runtime {

// The syscalls the default profile denies, by name (the documented list).
const std::vector<std::string>& DefaultDeniedSyscalls();

// A compiled BPF program, ready for PR_SET_SECCOMP.
struct SeccompProgram {
  std::vector<sock_filter> instructions;
};

// Compiles the default profile for the native architecture and its compat ABIs (x86 and x32 on
// x86_64, so 32-bit entry points cannot go around the list). Syscalls the running libseccomp
// does not know are skipped.
absl::StatusOr<SeccompProgram> CompileDefaultSeccompProgram();

// Installs `program` for the calling thread (no_new_privs or CAP_SYS_ADMIN required). Returns 0
// or an errno. Child side: async-signal-safe.
int InstallSeccompProgram(const SeccompProgram& program);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_SECCOMP_H_
