// corral's built-in init (--init): runs as PID 1 of the container, starts the command as its
// only direct child, forwards signals to it, reaps every zombie re-parented to it, and exits
// with the command's status. What tini and docker-init do, without an extra exec.
#ifndef CORRAL_RUNTIME_TINY_INIT_H_
#define CORRAL_RUNTIME_TINY_INIT_H_

#include "runtime/exec.h"

namespace corral::runtime {

// Child side, in the container as PID 1: never returns. Closes every fd but stdio and
// `error_fd`, turns non-dumpable and drops to the plan's credentials, capabilities,
// no_new_privs and seccomp itself before it forks the command. `error_fd` is handed to the
// command's process for exec errors and closed here.
[[noreturn]] void RunTinyInit(const ExecPlan& plan, int error_fd);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_TINY_INIT_H_
