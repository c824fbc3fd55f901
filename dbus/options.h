// The a{sv} options of CreateContainer and Exec, read off the bus through one table each:
// key, the variant's signature, and what the value sets. An unknown key, a key given twice or a
// value of the wrong type is InvalidArgument (a typo must not pass silently).
//
//   CreateContainer: Memory t, Tasks t, CPUWeight t, CPUQuota t, Restart s, Network s,
//     Hostname s, Ports a(sqq), Command as, Environment as, Boot b, Privileged b, Devices as,
//     and the storage options (storage_options.h): Binds, IdmappedBinds, Tmpfs, Volumes.
//   Exec: Environment as, User s (UID[:GID]), Cwd s, Tty b, PtyReceiver h.
#ifndef CORRAL_DBUS_OPTIONS_H_
#define CORRAL_DBUS_OPTIONS_H_

#include <systemd/sd-bus.h>

#include <functional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "dbus/container_config.h"
#include "dbus/exec_wire.h"

namespace corral::dbus {

// Enters the variant of option `key` if it holds `signature`; InvalidArgument otherwise.
int EnterVariant(sd_bus_message* m, const char* key, const char* signature, sd_bus_error* error);

int ReadStrv(sd_bus_message* m, std::vector<std::string>* out);

// Calls `read_one(key)` for each entry of an a{sv}, positioned at the variant; `read_one`
// leaves the variant. A key given twice is refused (InvalidArgument in `error`; -EINVAL
// without one): which of the two would win is nobody's guess.
int ReadOptions(sd_bus_message* m, const std::function<int(const std::string& key)>& read_one,
                sd_bus_error* error = nullptr);

// CreateContainer's options into `config`.
int ReadCreateOptions(sd_bus_message* m, ContainerConfig* config, sd_bus_error* error);

// Exec's options into `request` (exec_request.h checks them); the PtyReceiver socket (a dup of
// it) into `pty_receiver`.
int ReadExecOptions(sd_bus_message* m, ExecRequest* request, UniqueFd* pty_receiver, sd_bus_error* error);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_OPTIONS_H_
