// Starting an OCI container's init from a parsed config.json: namespaces new or joined, id
// maps, the mounts exactly as listed, devices, masks, sysctls, rlimits, credentials, the five
// capability sets, seccomp; the init then waits on exec.fifo until `start` opens it.
#ifndef CORRAL_RUNTIME_OCI_LAUNCH_H_
#define CORRAL_RUNTIME_OCI_LAUNCH_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/oci/config.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp_program.h"

namespace corral::runtime::oci {

struct LaunchOptions {
  // O_PATH fd of the exec fifo. The init opens it for writing (blocking until `start` opens the
  // read end) after all setup and before it drops privileges and execs; -1: exec at once.
  int exec_fifo = -1;
  // The init becomes a child of our parent (conmon, the shim), which reaps it; we exit.
  bool clone_parent = false;
  // Fds 3..3+N-1 stay open in the container (--preserve-fds, LISTEN_FDS).
  int preserve_fds = 0;
  // Where compiled seccomp programs are kept by content (runtime/oci/seccomp_cache.h); empty:
  // compile every time.
  std::string seccomp_cache_dir;
  // Called after the init exists in its namespaces (id maps written) and before it sets up
  // anything: cgroup placement, createRuntime and prestart hooks.
  std::function<absl::Status(pid_t pid)> before_go;
  // The state JSON the createContainer and startContainer hooks read on stdin, asked for once
  // the init's pid is known (after before_go). Required when the config has such hooks.
  std::function<std::string(pid_t pid)> container_hook_state;
};

struct Launched {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd pty_master;  // with process.terminal
  // Reads the exec result (run without a fifo): OK once exec'd.
  UniqueFd sync;
};

// The rootfs plan for `config`: its mounts in order, then /dev nodes and links, the console,
// masked and read-only paths. Fails when a bind source or device is missing on the host.
absl::StatusOr<RootfsPlan> MakeOciRootfsPlan(const Config& config, const std::string& console_path);

// Whether linux.devices are made with mknod in the container (no user namespace: runc's way)
// rather than bound from the host's nodes of the same path.
bool DevicesByMknod(const Config& config);

// Compiles linux.seccomp with libseccomp.
absl::StatusOr<SeccompProgram> CompileOciSeccomp(const Seccomp& seccomp);

// Clones the init and takes it as far as "created" (blocked on the fifo) or, without a fifo,
// through exec. Returns once the init has reported ready (or failed: killed then, the error
// names the step, path and errno).
absl::StatusOr<Launched> LaunchInit(const Config& config, const LaunchOptions& options);

// Sends the pty master over the unix socket at `socket_path` (--console-socket), as runc does.
absl::Status SendConsoleToSocket(const std::string& socket_path, int master);

// Waits for the exec report on `launched.sync` after the fifo was released (for `run`).
absl::Status WaitForExec(Launched& launched);

}  // namespace corral::runtime::oci

#endif  // CORRAL_RUNTIME_OCI_LAUNCH_H_
