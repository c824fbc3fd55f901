// corralctl's side of the bus: a system-bus connection that closes itself, method calls on
// corrald's Manager, container properties, and D-Bus errors turned into sentences a person
// understands.
#ifndef CORRAL_TOOLS_CTL_BUS_H_
#define CORRAL_TOOLS_CTL_BUS_H_

#include <systemd/sd-bus.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corral::tools {

struct BusDeleter {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct MessageDeleter {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using BusPtr = std::unique_ptr<sd_bus, BusDeleter>;
using MessagePtr = std::unique_ptr<sd_bus_message, MessageDeleter>;

// For root, corrald's private socket (/run/corral/private, like systemctl's
// /run/systemd/private): no dbus-daemon in between. Otherwise, or when corrald is not
// listening there, the system bus (which also starts corrald by activation).
absl::StatusOr<BusPtr> ConnectToCorrald();

// The sentence for a failed call: corrald's own errors carry one already; the bus's errors
// (no service, access denied by policy, timeout) get one here.
std::string ErrorSentence(const sd_bus_error* error, int r);

// Sends `call` and waits at most `timeout_usec` (0: CallTimeoutUsec), so a corrald that does
// not answer cannot hang corralctl for ever.
absl::StatusOr<MessagePtr> CallAndWait(sd_bus* bus, sd_bus_message* call, uint64_t timeout_usec = 0);

// How long a call may take by its method: 30 s; a start 5 min, a stop 2 min; Exec, which
// answers when the command ends, without limit. $CORRALCTL_TIMEOUT (seconds) sets it for every
// call but Exec. `call` may be null: the connection's own handshake.
uint64_t CallTimeoutUsec(sd_bus_message* call);

// A new method call to org.corral1.Manager.
absl::StatusOr<MessagePtr> NewManagerCall(sd_bus* bus, const char* method);

// The path of container `name`'s object.
std::string ContainerPath(const std::string& name);

// Appends one a{sv} entry `key` => as `values` to an open options array (nothing when empty):
// how create and clone send Command, Environment, Devices.
void AppendStrvOption(sd_bus_message* m, const char* key, const std::vector<std::string>& values);

// Every org.corral1.Container property of `name`, as (name, text) pairs in the vtable's order;
// lists joined by ", ".
struct Property {
  std::string name;
  std::string text;
  bool is_number = false;
  std::vector<std::string> list;  // for array properties
  bool is_list = false;
};
absl::StatusOr<std::vector<Property>> ContainerProperties(sd_bus* bus, const std::string& name);

// A JSON string literal.
std::string JsonString(const std::string& text);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_BUS_H_
