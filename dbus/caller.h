// Who calls corrald and what they may do: root changes containers (the bus policy lets others
// only read and list, like machined's; checked here as well so a permissive policy cannot open
// them up), root alone reads the private properties. And a call's container name, validated.
#ifndef CORRAL_DBUS_CALLER_H_
#define CORRAL_DBUS_CALLER_H_

#include <systemd/sd-bus.h>

#include <string>

namespace corral::dbus {

// True when the sender of `m` is root.
bool CallerIsRoot(sd_bus_message* m);

// False with *r set to AccessDenied unless the caller is root.
bool RequireRoot(sd_bus_message* m, sd_bus_error* error, int* r);

// Whether the property values being written into `reply` may include root-only ones (Command,
// which may carry secrets such as tokens on a command line). Only in a reply to a root caller's
// Get or GetAll: not in a signal (InterfacesAdded goes to every listener on the bus).
bool MayReadPrivateProperties(sd_bus* bus, sd_bus_message* reply);

// Reads the name argument and checks it is a valid name (InvalidName otherwise).
bool ReadName(sd_bus_message* m, sd_bus_error* error, int* r, std::string* name);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_CALLER_H_
