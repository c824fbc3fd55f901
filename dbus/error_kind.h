// What kind of failure a Status is, in the terms of corrald's contract (DESIGN.md's
// org.corral1.Error names), carried as a Status payload so that the registry and the
// lifecycle say it without knowing the bus, and the bus layer (bus_errors.h) maps it to an
// error name without reading the message: rewording a message never changes the contract.
#ifndef CORRAL_DBUS_ERROR_KIND_H_
#define CORRAL_DBUS_ERROR_KIND_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace corral::dbus {

enum class ErrorKind {
  kUnspecified,  // no payload: the bus layer maps by the status code
  kNoSuchContainer,
  kContainerExists,
  kInvalidName,
  kInvalidArgument,
  kNotRunning,
  kAlreadyRunning,
  kAccessDenied,
  kFailed,
};

// `status` with `kind` attached (an OK status stays OK).
absl::Status WithErrorKind(absl::Status status, ErrorKind kind);
// The kind attached, kUnspecified when none is.
ErrorKind ErrorKindOf(const absl::Status& status);

// The contract's errors, each with its usual code.
absl::Status NoSuchContainerError(absl::string_view name);  // NotFound "no container named NAME"
absl::Status NotRunningError(absl::string_view message);      // FailedPrecondition
absl::Status AlreadyRunningError(absl::string_view message);  // FailedPrecondition
absl::Status InvalidArgumentKindError(absl::string_view message);  // InvalidArgument
absl::Status FailedError(absl::string_view message);          // Internal, org.corral1.Error.Failed

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_ERROR_KIND_H_
