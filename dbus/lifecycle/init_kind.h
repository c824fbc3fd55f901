// What PID 1 of a container is, and how it is asked to stop.
#ifndef CORRAL_DBUS_LIFECYCLE_INIT_KIND_H_
#define CORRAL_DBUS_LIFECYCLE_INIT_KIND_H_

#include "dbus/container_config.h"

namespace corral::dbus {

// Its command (under corral's tiny init, or itself with Boot and a command), or the image's
// /sbin/init, told by where that points: busybox, systemd, or something else. Decides only how
// it is asked to stop: what a container is given (boot capabilities, a writable cgroup2, the
// notify socket) follows its configuration (Boot, Privileged), never what its image contains.
enum class InitKind { kCommand, kBusybox, kSystemd, kOther };
InitKind ContainerInit(const ContainerConfig& config);

// The signal that asks that init to shut down: SIGRTMIN+3 for systemd, SIGUSR2 (poweroff)
// for busybox init, SIGTERM otherwise.
int HaltSignal(InitKind init);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIFECYCLE_INIT_KIND_H_
