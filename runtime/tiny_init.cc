#include "runtime/tiny_init.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/syscalls.h"
#include "runtime/child_error.h"

namespace corral::runtime {

[[noreturn]] void RunTinyInit(const ExecPlan& plan, int error_fd) {
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  // A raw fork: glibc's fork() runs atfork handlers that may take locks a thread of the
  // original manager process held when it cloned us.
  long child = ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (child < 0) {
    ReportChildError(error_fd, "fork command under init", "", errno);
    ::_exit(125);
  }
  if (child == 0) {
    ExecInChild(plan, error_fd);
    ::_exit(127);
  }
  ::close(error_fd);
  // The init never execs, so close-on-exec does not apply to it: it would keep every fd of the
  // manager that cloned it (a supervisor's sockets and pipes) open for the container's life.
  sys::CloseRange(3, ~0U, 0);
  for (;;) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      ::kill(static_cast<pid_t>(child), sig);
      continue;
    }
    for (;;) {
      int status;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == child) {
        // The command is done: its status is the container's. Remaining processes die with
        // the PID namespace when we exit.
        ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      }
    }
  }
}

}  // namespace corral::runtime
