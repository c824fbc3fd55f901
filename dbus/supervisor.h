// The per-container supervisor: a process corrald forks (without exec) for each start, which
// lives in the container's scope (its `supervisor` leaf) and stays the container's parent for
// the container's whole life, so the container, its console and its network outlive corrald
// restarts and crashes, as LXC's monitor and conmon do for theirs.
//
// What it does, in order: waits for corrald's go (sent once systemd has put it into the scope),
// makes the `supervisor` and `payload` leaves in the scope's cgroup2 directory and moves itself
// into the first (the second delegated to the container's root unless it is privileged), mounts
// the overlay rootfs (on an idmapped view of the image, for a container in its own user
// namespace), claims and wires the network, starts the
// container (moved into `payload` before it unshares its cgroup namespace, so that leaf is the
// root of its cgroup namespace), writes the state file and reports "ok". Then it serves the
// console (a proxy pty per session, the output ring-buffered while nobody is attached) until
// the container exits, undoes network and mount, writes the exit status and exits.
#ifndef CORRAL_DBUS_SUPERVISOR_H_
#define CORRAL_DBUS_SUPERVISOR_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "dbus/container_config.h"
#include "dbus/supervisor_wire.h"

namespace corral::dbus {

// Where a container's files are.
struct ContainerPaths {
  std::string lib_dir;  // /var/lib/corral/containers/NAME: config, overlay upper and work
  std::string run_dir;  // /run/corral/containers/NAME: rootfs mount, state, console socket

  static ContainerPaths For(const std::string& lib_root, const std::string& run_root, const std::string& name);
  std::string config() const { return lib_dir + "/config"; }
  std::string rootfs() const { return run_dir + "/rootfs"; }
  std::string state() const { return run_dir + "/state"; }
  std::string exit_status() const { return run_dir + "/exit-status"; }
  std::string console_socket() const { return run_dir + "/console.sock"; }
  std::string hostname_file() const { return run_dir + "/hostname"; }
  // Bind-mounted at /run/host in booted containers, as systemd-nspawn does; holds `notify`,
  // the container's NOTIFY_SOCKET.
  std::string host_dir() const { return run_dir + "/host"; }
};

struct SupervisorLaunch {
  ContainerConfig config;
  ContainerPaths paths;
  std::string network_config;  // path of network.conf
  // Detached mounts of config.volumes, in order, opened by corrald (OpenVolumeTrees); the
  // supervisor gets them as fds 6, 7, ... and binds them.
  std::vector<int> volume_trees;
};

// corrald's end of a forked supervisor.
struct SupervisorHandle {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd go;      // write one byte once the supervisor is in its scope; close to abort
  UniqueFd report;  // lines: "ok LEADER [ADDRESS...]", "ready", "error MESSAGE", "exit STATUS"
  UniqueFd exec_requests;  // SOCK_SEQPACKET: execs the supervisor starts (supervisor_exec.h)
};

// Forks the supervisor. Call from a single-threaded process (corrald is).
absl::StatusOr<SupervisorHandle> ForkSupervisor(const SupervisorLaunch& launch);

// SupervisorState and its file, the report lines: dbus/supervisor_wire.h.

// A console session from the supervisor of a running container (dbus/console_request.h asks
// for it from corrald's loop): the proxy pty's master and its path.
struct ConsoleSession {
  UniqueFd master;
  std::string pty;
};

// Where cgroup2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host.
absl::StatusOr<std::string> Cgroup2MountPoint();

// The cgroup2 directory of process `pid` (0: this one), under Cgroup2MountPoint().
absl::StatusOr<std::string> Cgroup2DirectoryOf(pid_t pid);

// What PID 1 of a container is: its command (under corral's tiny init, or itself with Boot
// and a command), or the image's /sbin/init, told by where that points: busybox, systemd, or
// something else. Decides only how it is asked to stop: what a container is given (boot
// capabilities, a writable cgroup2, the notify socket) follows its configuration (Boot,
// Privileged), never what its image contains.
enum class InitKind { kCommand, kBusybox, kSystemd, kOther };
InitKind ContainerInit(const ContainerConfig& config);

// The signal that asks that init to shut down: SIGRTMIN+3 for systemd, SIGUSR2 (poweroff)
// for busybox init, SIGTERM otherwise.
int HaltSignal(InitKind init);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_H_
