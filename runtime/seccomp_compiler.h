// The default seccomp profile as a list of syscall names, and its compilation with libseccomp.
// Used at build time (seccomp_gen writes the program into the runtime, so no start pays for
// the compilation) and by the tests that check the embedded program is this one.
#ifndef CORRAL_RUNTIME_SECCOMP_COMPILER_H_
#define CORRAL_RUNTIME_SECCOMP_COMPILER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/seccomp_program.h"

namespace corral::runtime {

// The syscalls the default profile denies with EPERM, by name (the documented list).
const std::vector<std::string>& DefaultDeniedSyscalls();

// Compiles the default profile for the native architecture and its compat ABIs (x86 and x32 on
// x86_64, so 32-bit entry points cannot go around the list). Syscalls the libseccomp at hand
// does not know are skipped.
absl::StatusOr<SeccompProgram> CompileDefaultSeccompProgram();

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_SECCOMP_COMPILER_H_
