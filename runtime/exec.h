// ExecPlan: the last mile before execve, shared by container start and attach. Everything
// (argv, envp, PATH directories, credentials, capabilities, seccomp program) is prepared in the
// parent; the child side only makes syscalls.
#ifndef CORRAL_RUNTIME_EXEC_H_
#define CORRAL_RUNTIME_EXEC_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/capabilities.h"
#include "runtime/seccomp.h"

namespace corral::runtime {

struct ExecPlan {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<std::string> path_dirs;  // from the container's PATH, for the command search
  std::vector<char*> argv;             // pointers into argv_storage, null-terminated
  std::vector<char*> envp;             // pointers into env_storage, null-terminated
  std::string cwd;
  uid_t uid = 0;
  gid_t gid = 0;
  CapabilityPlan capabilities;
  bool no_new_privs = true;
  std::optional<SeccompProgram> seccomp;
  // A container's init: the signal it gets when the process that cloned it dies (see
  // BindDeathSignalInChild), bound again after the credential changes, which clear it.
  int death_signal = 0;
};

struct ExecOptions {
  std::vector<std::string> command;
  std::vector<std::string> env;  // KEY=VALUE overrides
  std::string cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  bool tty = false;
  std::vector<int> capabilities;
  bool no_new_privs = true;
  const SeccompProgram* seccomp = nullptr;  // copied into the plan when set
};

// Builds the plan, merging default environment (PATH, HOME, TERM with a tty, container=corral)
// with the caller's.
ExecPlan MakeExecPlan(const ExecOptions& options);

// Child side: resets signal state, drops to the plan's credentials, capabilities, no_new_privs
// and seccomp, marks every fd above 2 close-on-exec, changes directory and execs, searching
// PATH when the command has no '/'. Only returns on failure, after writing a ChildError to
// `error_fd`. Async-signal-safe.
void ExecInChild(const ExecPlan& plan, int error_fd);

// Sets the supplementary groups for a process about to become uid/gid: none for root, {gid}
// for anyone else. Returns 0 or an errno. In a user namespace where setgroups is denied, holding
// exactly those groups already counts as done. Child side: async-signal-safe.
int SetGroupsInChild(uid_t uid, gid_t gid);

// The two halves of ExecInChild, for a process that must itself run restricted before it forks
// the command (the tiny init). DropPrivilegesInChild: credentials, capabilities,
// no_new_privs, seccomp, and not dumpable whatever fs.suid_dumpable made of the credential
// change; false after writing a ChildError. ExecPreparedInChild: chdir,
// close-on-exec above 2, execve; returns only on failure, after writing a ChildError.
bool DropPrivilegesInChild(const ExecPlan& plan, int error_fd);
void ExecPreparedInChild(const ExecPlan& plan, int error_fd);

// PR_SET_PDEATHSIG(signal), then a check that the parent is still there, as LXC's
// lxc_set_death_signal does: a parent that died before the prctl never sends it. The parent
// is outside the container's PID namespace (getppid() is 0 there), so it is judged by
// `parent_fd`, a socket whose other end only the parent holds: a hangup there means it is
// gone, and the child exits at once. The signal fires when the parent *thread* exits; the
// supervisor and corral-run are single-threaded, and clone from their one thread. Returns 0
// or an errno (after which the caller reports and exits). Async-signal-safe.
int BindDeathSignalInChild(int signal, int parent_fd);

// Resets every signal disposition to default and unblocks all signals (child side).
void ResetSignalsInChild();

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_EXEC_H_
