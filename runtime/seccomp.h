// The default seccomp profile: a deny list of syscalls a container has no business making
// (kernel modules, kexec, keyrings, bpf, perf, open_by_handle_at, swap, ...) that fail with
// EPERM. The list and its compilation with libseccomp live in seccomp_compiler.h; the program
// is compiled when corral is built and embedded here, because compiling it at run time cost a
// fresh process (corral-run, a supervisor) a noticeable share of every start.
#ifndef CORRAL_RUNTIME_SECCOMP_H_
#define CORRAL_RUNTIME_SECCOMP_H_

#include "runtime/seccomp_program.h"

namespace corral::runtime {

// The default profile, compiled at build time for this architecture and its compat ABIs.
const SeccompProgram& DefaultSeccompProgram();

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_SECCOMP_H_
