// Attaching to a running container (the library form of `corralctl exec`), in two steps so
// the container never meets a copy of the caller: a helper forked in the caller's PID
// namespace keeps only the fds it needs, turns non-dumpable, joins the container's
// namespaces and cgroups, and only then forks the process that becomes visible inside.
#ifndef CORRAL_RUNTIME_ATTACH_H_
#define CORRAL_RUNTIME_ATTACH_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/exec.h"
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
  // Allocate a pty in the container's own devpts (/dev/pts/ptmx, opened by the helper inside
  // the container's mount namespace without following symlinks or leaving the mount): its
  // slave becomes stdio and the controlling terminal, its master comes back in
  // AttachedProcess::pty_master. The stdio fds above are then ignored.
  bool allocate_pty = false;
  bool seccomp = true;
  // Another program than the profile for the capabilities kept (nullptr: SeccompProgramFor()).
  const SeccompProgram* seccomp_program = nullptr;
  bool no_new_privs = true;
  // Capabilities kept; empty optional: DefaultCapabilities().
  std::optional<std::vector<int>> capabilities;
  // When set, the attached process is born in this cgroup (a cgroup2 directory fd; the helper
  // moves there first and closes it), so it is accounted with the container.
  int cgroup_fd = -1;
  // Also join the container's leader in every cgroup v1 hierarchy where it is elsewhere than
  // the caller (a hybrid host's memory and pids controllers).
  bool join_v1_cgroups = true;
};

// A process started inside a container.
struct AttachedProcess {
  pid_t pid = -1;   // in the caller's PID namespace
  UniqueFd pidfd;
  UniqueFd pty_master;  // with AttachSpec::allocate_pty
};

// An attach under way, for an event loop: Start() forks the helper and returns at once; the
// caller polls fd() for POLLIN and calls OnReadable() until it returns true, then takes
// Result(). The attached process is the caller's own child (the helper forks it with
// CLONE_PARENT), so the caller waits for it through its pidfd.
class AttachInProgress {
 public:
  static absl::StatusOr<std::unique_ptr<AttachInProgress>> Start(int container_pidfd, const AttachSpec& spec);
  // An attach whose helper another process forks for us (ForkAttachHelperForParent, in a
  // process that sits in the container's cgroups already), reporting on `report`: its first
  // record hands us the helper.
  static std::unique_ptr<AttachInProgress> Expect(UniqueFd report);
  ~AttachInProgress();  // kills and reaps whatever did not finish starting
  AttachInProgress(const AttachInProgress&) = delete;
  AttachInProgress& operator=(const AttachInProgress&) = delete;

  // The report socket: readable when the helper or the process has news.
  int fd() const { return report_.get(); }
  // Reads the news. True when the attach is over (started or failed); then call Result().
  bool OnReadable();
  // Kills the helper and the process (a timeout, a caller gone); the attach then ends with
  // `why` once both are gone (OnReadable returns true, no blocking).
  void Abort(absl::Status why);
  bool done() const { return done_; }
  // The process's pid once the helper has reported it (it may still be before its execve),
  // else -1.
  pid_t process_pid() const { return process_.pidfd ? process_.pid : -1; }
  // The started process (exec done), or what went wrong. Once, after done().
  absl::StatusOr<AttachedProcess> Result();

 private:
  AttachInProgress() = default;
  void Finish(absl::Status status);
  // The report socket's end: the outcome from what came before it.
  void FinishAtEnd();
  // One record of `n` bytes, with the fd that came with it.
  void TakeRecord(const char* data, size_t n, UniqueFd passed);

  UniqueFd report_;
  pid_t helper_pid_ = -1;
  UniqueFd helper_pidfd_;
  AttachedProcess process_;
  bool done_ = false;
  absl::Status status_;
  absl::Status abort_;  // set by Abort()
  int records_ = 0;     // read from report_
  bool expect_helper_ = false;  // Expect(): helper_pidfd_ comes in the first record
};

// Forks the helper for `spec` as a child of our parent (CLONE_PARENT), which watches the
// attach with AttachInProgress::Expect on the other end of `report_fd`: the helper's first
// record is its pidfd, and the process it starts is that parent's child too. We keep nothing
// of it, and may close report_fd at once. For corrald's supervisor: it sits in the
// container's cgroups, so a helper forked there joins no cgroup v1 hierarchy and moves
// nowhere, where corrald's own helper would pay a cgroup move (an RCU grace period) per
// hierarchy.
absl::Status ForkAttachHelperForParent(int container_pidfd, const AttachSpec& spec, int report_fd);

// Starts `spec.command` inside the container whose PID 1 is `container_pidfd` and waits until
// it has exec'd (or failed to).
absl::StatusOr<AttachedProcess> Attach(int container_pidfd, const AttachSpec& spec);

// Waits for an attached process; the exit code, or 128 + signal.
absl::StatusOr<int> WaitAttached(AttachedProcess& process);

// Kills an attached process and reaps it, waiting at most 0.5 s: one a container keeps from
// ending (in a v1 freezer cgroup it froze, where SIGKILL waits) is left unreaped rather than
// holding the caller's event loop. Closes the pidfd.
void KillAndReapAttached(AttachedProcess& process);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_ATTACH_H_
