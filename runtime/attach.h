// Attaching to a running container: join all of its namespaces through its pidfd
// (setns(pidfd, ...), Linux 5.8), fork into its PID namespace, apply the same capability
// and seccomp restrictions, exec. The library form of `corralctl exec`.
#ifndef CORRAL_RUNTIME_ATTACH_H_
#define CORRAL_RUNTIME_ATTACH_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/seccomp.h"

namespace corral::runtime {

struct AttachSpec {
  std::vector<std::string> command;
  std::vector<std::string> env;  // KEY=VALUE, on top of PATH/TERM/HOME defaults
  std::string cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  // stdio for the process; -1 inherits the caller's.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Make stdin the controlling terminal in a new session (with a pty for `exec -t`).
  bool controlling_tty = false;
  bool seccomp = true;
  // Another program than the profile for the capabilities kept (nullptr: SeccompProgramFor()).
  const SeccompProgram* seccomp_program = nullptr;
  bool no_new_privs = true;
  // Capabilities kept; empty optional: DefaultCapabilities().
  std::optional<std::vector<int>> capabilities;
  // When set, the attached process is moved into this cgroup (a cgroup2 directory fd) with
  // CLONE_INTO_CGROUP, so it is accounted with the container.
  int cgroup_fd = -1;
};

// A process started inside a container.
struct AttachedProcess {
  pid_t pid = -1;   // in the caller's PID namespace
  UniqueFd pidfd;
};

// Starts `spec.command` inside the container whose PID 1 is `container_pidfd`.
absl::StatusOr<AttachedProcess> Attach(int container_pidfd, const AttachSpec& spec);

// Waits for an attached process; the exit code, or 128 + signal.
absl::StatusOr<int> WaitAttached(AttachedProcess& process);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_ATTACH_H_
