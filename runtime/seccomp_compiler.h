// The seccomp profiles as rules (syscall names and argument filters), and their compilation
// with libseccomp. Used at build time (seccomp_gen writes the programs into the runtime, so no
// start pays for the compilation) and by the tests that check the embedded programs are these.
#ifndef CORRAL_RUNTIME_SECCOMP_COMPILER_H_
#define CORRAL_RUNTIME_SECCOMP_COMPILER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/seccomp_program.h"

namespace corral::runtime {

// The two profiles. Which one a process gets follows its capability set (SeccompProgramFor in
// seccomp.h): without CAP_SYS_ADMIN, kDefault; with it (a booted systemd), kBoot.
enum class SeccompProfile {
  // Everything below, and no new user namespace: unshare(2) and clone(2) with CLONE_NEWUSER
  // fail with EPERM, clone3(2) fails with ENOSYS (its flags are in memory, where a filter cannot
  // look; libcs then fall back to clone(2), whose flags it can).
  kDefault,
  // For an init that builds its own system (systemd: PrivateUsers= needs CLONE_NEWUSER, and it
  // forks with clone3): the same minus the user-namespace and clone3 rules.
  kBoot,
};

// The syscalls both profiles deny with EPERM, by name (the documented list).
const std::vector<std::string>& DefaultDeniedSyscalls();

// Compiles `profile` for the native architecture and its compat ABIs (x86 and x32 on x86_64, so
// 32-bit entry points cannot go around it). Syscalls the libseccomp at hand does not know are
// skipped. Besides the list, both profiles answer socket(AF_VSOCK, ...) with EAFNOSUPPORT and
// socket(AF_NETLINK, *, NETLINK_AUDIT) with EPROTONOSUPPORT (what a kernel without vsock or
// audit says, which programs treat as "not here" and carry on).
absl::StatusOr<SeccompProgram> CompileSeccompProgram(SeccompProfile profile);

// "default" or "boot".
const char* SeccompProfileName(SeccompProfile profile);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_SECCOMP_COMPILER_H_
