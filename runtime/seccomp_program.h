// A compiled seccomp BPF program and how a process installs it.
#ifndef CORRAL_RUNTIME_SECCOMP_PROGRAM_H_
#define CORRAL_RUNTIME_SECCOMP_PROGRAM_H_

#include <linux/filter.h>

#include <vector>

namespace corral::runtime {

// A compiled BPF program, ready for PR_SET_SECCOMP.
struct SeccompProgram {
  std::vector<sock_filter> instructions;
};

// Installs `program` for the calling thread (no_new_privs or CAP_SYS_ADMIN required). Returns 0
// or an errno. Child side: async-signal-safe.
int InstallSeccompProgram(const SeccompProgram& program);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_SECCOMP_PROGRAM_H_
