// The supervisor process's entry and its fds, shared by ForkSupervisor (fork.cc), which sets
// them up in the child, and the process itself (supervisor.cc).
#ifndef CORRAL_DBUS_SUPERVISOR_SUPERVISOR_MAIN_H_
#define CORRAL_DBUS_SUPERVISOR_SUPERVISOR_MAIN_H_

#include "dbus/supervisor/supervisor.h"

namespace corral::dbus {

// The supervisor's fds: the go pipe, the report pipe (protocol.h), corrald's exec requests
// (exec.h), then the volumes' mounts (SupervisorLaunch::volume_trees), in order.
inline constexpr int kGoFd = 3;
inline constexpr int kReportFd = 4;
inline constexpr int kExecRequestsFd = 5;
inline constexpr int kFirstVolumeFd = 6;

// Runs the whole life of the container in the forked child; returns the process exit code.
int RunSupervisor(const SupervisorLaunch& launch);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_SUPERVISOR_SUPERVISOR_MAIN_H_
