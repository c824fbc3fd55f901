#include "runtime/seccomp.h"

#include <linux/capability.h>

#include <algorithm>

namespace corral::runtime {

// Written by //runtime:seccomp_gen from CompileSeccompProgram() (seccomp_compiler.h).
const SeccompProgram& DefaultSeccompProgram() {
  static const SeccompProgram* program = new SeccompProgram{{
#include "runtime/default_seccomp_program.inc"
  }};
  return *program;
}

const SeccompProgram& BootSeccompProgram() {
  static const SeccompProgram* program = new SeccompProgram{{
#include "runtime/boot_seccomp_program.inc"
  }};
  return *program;
}

const SeccompProgram& SeccompProgramFor(const std::vector<int>& capabilities) {
  bool sys_admin = std::find(capabilities.begin(), capabilities.end(), CAP_SYS_ADMIN) != capabilities.end();
  return sys_admin ? BootSeccompProgram() : DefaultSeccompProgram();
}

}  // namespace corral::runtime
