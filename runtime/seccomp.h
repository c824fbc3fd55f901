// The seccomp profiles a container gets: a deny list of syscalls a container has no business
// making (kernel modules, kexec, keyrings, bpf, perf, io_uring, open_by_handle_at, swap, ...)
// that fail with EPERM, vsock and audit sockets, and, without CAP_SYS_ADMIN, new user
// namespaces (seccomp_compiler.h has the rules). The programs are compiled when corral is
// built and embedded here, because compiling them at run time cost a fresh process
// (corral-run, a supervisor) a noticeable share of every start.
#ifndef CORRAL_RUNTIME_SECCOMP_H_
#define CORRAL_RUNTIME_SECCOMP_H_

#include <vector>

#include "runtime/seccomp_program.h"

namespace corral::runtime {

// The default profile (SeccompProfile::kDefault), compiled at build time for this architecture
// and its compat ABIs.
const SeccompProgram& DefaultSeccompProgram();

// The boot profile (SeccompProfile::kBoot): what a booted systemd needs besides, namely new
// user namespaces (PrivateUsers=) and clone3.
const SeccompProgram& BootSeccompProgram();

// The profile for a process that keeps `capabilities` (capability numbers): the boot profile
// when they include CAP_SYS_ADMIN, which only a booted init gets, the default one otherwise.
// Without CAP_SYS_ADMIN a user namespace is the only way to mount, so it is closed; with it,
// the capability already opens as much.
const SeccompProgram& SeccompProgramFor(const std::vector<int>& capabilities);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_SECCOMP_H_
