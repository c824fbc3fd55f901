// Starting a container and holding on to it: clone into new namespaces, set up the rootfs,
// drop privileges, exec; the parent keeps a pidfd and, with a tty, the console's pty master.
#ifndef CORRAL_RUNTIME_CONTAINER_H_
#define CORRAL_RUNTIME_CONTAINER_H_

#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/phase_timer.h"
#include "runtime/spec.h"
#include "runtime/start_step.h"

namespace corral::runtime {

struct StartOptions {
  // The caller's start steps (runtime/start_step.h), prepared by the caller (their Prepare adds
  // to the spec before it is passed here) and undone by it once the container has ended or the
  // start failed. Start gives the clone the steps' cgroup and runs their InParent after the
  // child exists in its new namespaces with its id maps written, and before it sets up its
  // rootfs and unshares its cgroup namespace.
  StartSteps* steps = nullptr;
  // stdin, stdout, stderr of the container without a tty; -1 inherits the caller's.
  int stdio[3] = {-1, -1, -1};
  // With a tty: where the container's stdout and stderr go instead of the console (a pipe its
  // supervisor reads much faster than a pty), -1 for the console. The console stays its stdin,
  // controlling terminal and /dev/console.
  int console_output = -1;
  // Where per-phase timings go (optional).
  PhaseTimer* timer = nullptr;
};

class Container {
 public:
  // Starts the container described by `spec` (validated first). Returns once the command has
  // been exec'd (or the exec failed: then the error names the step and errno).
  static absl::StatusOr<Container> Start(const ContainerSpec& spec, const StartOptions& options = {});

  Container(Container&&) = default;
  Container& operator=(Container&&) = default;
  // Kills and reaps a container that is still running when its owner lets go.
  ~Container();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  // The pty master of the container's console (with spec.tty), else -1.
  int console_master() const { return console_.get(); }

  // Sends `signal` through the pidfd.
  absl::Status Signal(int signal);
  // Waits for the container's PID 1 to exit; returns its status as a shell would:
  // the exit code, or 128 + the signal that killed it.
  absl::StatusOr<int> Wait();

 private:
  Container(pid_t pid, UniqueFd pidfd, UniqueFd console)
      : pid_(pid), pidfd_(std::move(pidfd)), console_(std::move(console)) {}
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd console_;
  bool reaped_ = false;
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CONTAINER_H_
