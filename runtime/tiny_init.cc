#include "runtime/tiny_init.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
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
  // The init never execs, so close-on-exec does not apply to it: it would keep every fd of the
  // manager that cloned it (a supervisor's sockets and pipes) open for the container's life.
  // Close them now, before the command exists, keeping stdio and the report fd.
  if ((error_fd > 3 && sys::CloseRange(3, static_cast<unsigned>(error_fd) - 1, 0) != 0) ||
      sys::CloseRange(static_cast<unsigned>(error_fd) + 1, ~0U, 0) != 0) {
    ReportChildError(error_fd, "close_range in the init", "", errno);
    ::_exit(125);
  }
  // The init is a copy of the manager (its memory too, never replaced by an execve): not
  // dumpable, so a container process cannot read it or ptrace it.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    ReportChildError(error_fd, "prctl(PR_SET_DUMPABLE, 0) in the init", "", errno);
    ::_exit(125);
  }
  // The init is a container process like any other: the container's credentials,
  // capabilities, no_new_privs and seccomp filter, applied here so the command inherits them.
  if (!DropPrivilegesInChild(plan, error_fd)) ::_exit(125);
  // A raw fork: glibc's fork() runs atfork handlers that may take locks a thread of the
  // original manager process held when it cloned us.
  long child = ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (child < 0) {
    ReportChildError(error_fd, "fork command under init", "", errno);
    ::_exit(125);
  }
  if (child == 0) {
    ResetSignalsInChild();
    ExecPreparedInChild(plan, error_fd);
    ::_exit(127);
  }
  ::close(error_fd);
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
