// A Status as the contract's D-Bus error (interface.h's org.corral1.Error names): named by the
// ErrorKind payload the registry and the lifecycle attach (error_kind.h), else by the status
// code, never by the message's words; the message made valid UTF-8 (sd-bus sends no other).
#ifndef CORRAL_DBUS_BUS_ERRORS_H_
#define CORRAL_DBUS_BUS_ERRORS_H_

#include <systemd/sd-bus.h>

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace corral::dbus {

// The error name for a failed `status`:
//   kind payload          the contract's name for it (NoSuchContainer, NotRunning, ...)
//   NotFound              InvalidArgument (a missing image, volume or file is an argument problem)
//   AlreadyExists         ContainerExists
//   InvalidArgument,
//   OutOfRange            InvalidArgument
//   anything else         Failed (PermissionDenied too: EACCES of a step inside a container is
//                         not the caller's rights, which alone answer AccessDenied)
const char* ErrorNameFor(const absl::Status& status);

// Sets `error` and returns the negative errno sd-bus expects from a method handler.
int SetError(sd_bus_error* error, const char* name, absl::string_view message);
int StatusError(sd_bus_error* error, const absl::Status& status);
// Replies to `call` later (outside its handler) with `status` as the error.
int ReplyStatusError(sd_bus_message* call, const absl::Status& status);

// A Done (lifecycle/interfaces.h) that answers `call` with an empty reply or the error. It
// holds its own reference to the call until then.
std::function<void(absl::Status)> ReplyWhenDone(sd_bus_message* call);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_BUS_ERRORS_H_
