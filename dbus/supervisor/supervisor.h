// The per-container supervisor: a process corrald forks (without exec) for each start, which
// lives in the container's scope (its `supervisor` leaf) and stays the container's parent for
// the container's whole life, so the container, its console and its network outlive corrald
// restarts and crashes, as LXC's monitor and conmon do for theirs.
//
// What it does, in order: waits for corrald's go (sent once systemd has put it into the scope),
// makes the `supervisor` and `payload` leaves in the scope's cgroup2 directory and moves itself
// into the first (the second delegated to the container's root unless it is privileged), mounts
// the overlay rootfs (on an idmapped view of the image, for a container in its own user
// namespace), claims and wires the network, starts the container (moved into `payload` before it
// unshares its cgroup namespace, so that leaf is the root of its cgroup namespace), writes the
// state file (state_file.h) and reports "ok" (protocol.h). Then it serves the console
// (console_server.h) and execs (exec.h) until the container exits, undoes network and mount,
// writes the exit status and exits.
#ifndef CORRAL_DBUS_SUPERVISOR_SUPERVISOR_H_
#define CORRAL_DBUS_SUPERVISOR_SUPERVISOR_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "dbus/container_config.h"
#include "dbus/container_paths.h"

namespace corral::dbus {

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
  UniqueFd report;  // report lines (protocol.h)
  UniqueFd exec_requests;  // SOCK_SEQPACKET: execs the supervisor starts (exec.h)
};

// Forks the supervisor. Call from a single-threaded process (corrald is).
absl::StatusOr<SupervisorHandle> ForkSupervisor(const SupervisorLaunch& launch);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_SUPERVISOR_H_
