#include "dbus/bus_errors.h"

#include <memory>

#include "common/utf8.h"
#include "dbus/bus_ptr.h"
#include "dbus/error_kind.h"
#include "dbus/interface.h"

namespace corral::dbus {

const char* ErrorNameFor(const absl::Status& status) {
  switch (ErrorKindOf(status)) {
    case ErrorKind::kNoSuchContainer: return kErrorNoSuchContainer;
    case ErrorKind::kContainerExists: return kErrorContainerExists;
    case ErrorKind::kInvalidName: return kErrorInvalidName;
    case ErrorKind::kInvalidArgument: return kErrorInvalidArgument;
    case ErrorKind::kNotRunning: return kErrorNotRunning;
    case ErrorKind::kAlreadyRunning: return kErrorAlreadyRunning;
    case ErrorKind::kAccessDenied: return kErrorAccessDenied;
    case ErrorKind::kFailed: return kErrorFailed;
    case ErrorKind::kUnspecified: break;
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kErrorInvalidArgument;
    case absl::StatusCode::kAlreadyExists:
      return kErrorContainerExists;
    default:
      return kErrorFailed;
  }
}

int SetError(sd_bus_error* error, const char* name, absl::string_view message) {
  // sd-bus refuses to send a message that is not valid UTF-8, and the caller would get no
  // reply at all: whatever got quoted into the text, it is made valid here.
  return sd_bus_error_set(error, name, ValidUtf8(message).c_str());
}

int StatusError(sd_bus_error* error, const absl::Status& status) {
  return SetError(error, ErrorNameFor(status), status.message());
}

int ReplyStatusError(sd_bus_message* call, const absl::Status& status) {
  BusErrorHolder error;
  StatusError(error.get(), status);
  return sd_bus_reply_method_error(call, error.get());
}

std::function<void(absl::Status)> ReplyWhenDone(sd_bus_message* call) {
  std::shared_ptr<sd_bus_message> held = ShareMessage(call);
  return [held](absl::Status status) {
    if (status.ok()) {
      sd_bus_reply_method_return(held.get(), "");
    } else {
      ReplyStatusError(held.get(), status);
    }
  };
}

}  // namespace corral::dbus
