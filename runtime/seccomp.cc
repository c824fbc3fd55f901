#include "runtime/seccomp.h"

namespace corral::runtime {

const SeccompProgram& DefaultSeccompProgram() {
  // Written by //runtime:seccomp_gen from CompileDefaultSeccompProgram() (seccomp_compiler.h).
  static const SeccompProgram* program = new SeccompProgram{{
#include "runtime/default_seccomp_program.inc"
  }};
  return *program;
}

}  // namespace corral::runtime
