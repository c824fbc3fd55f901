#include "runtime/seccomp_program.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

namespace corral::runtime {

int InstallSeccompProgram(const SeccompProgram& program) {
  struct sock_fprog prog;
  prog.len = static_cast<unsigned short>(program.instructions.size());
  prog.filter = const_cast<sock_filter*>(program.instructions.data());
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) return errno;
  return 0;
}

}  // namespace corral::runtime
