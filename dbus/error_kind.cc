#include "dbus/error_kind.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace corral::dbus {
namespace {

constexpr char kPayloadUrl[] = "type.corral.dev/corral.ErrorKind";

}  // namespace

absl::Status WithErrorKind(absl::Status status, ErrorKind kind) {
  if (status.ok() || kind == ErrorKind::kUnspecified) return status;
  status.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(static_cast<int>(kind))));
  return status;
}

ErrorKind ErrorKindOf(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);
  int value = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &value)) return ErrorKind::kUnspecified;
  if (value <= static_cast<int>(ErrorKind::kUnspecified) || value > static_cast<int>(ErrorKind::kFailed)) {
    return ErrorKind::kUnspecified;
  }
  return static_cast<ErrorKind>(value);
}

absl::Status NoSuchContainerError(absl::string_view name) {
  return WithErrorKind(absl::NotFoundError(absl::StrCat("no container named ", name)), ErrorKind::kNoSuchContainer);
}

absl::Status NotRunningError(absl::string_view message) {
  return WithErrorKind(absl::FailedPreconditionError(message), ErrorKind::kNotRunning);
}

absl::Status AlreadyRunningError(absl::string_view message) {
  return WithErrorKind(absl::FailedPreconditionError(message), ErrorKind::kAlreadyRunning);
}

absl::Status InvalidArgumentKindError(absl::string_view message) {
  return WithErrorKind(absl::InvalidArgumentError(message), ErrorKind::kInvalidArgument);
}

absl::Status FailedError(absl::string_view message) {
  return WithErrorKind(absl::InternalError(message), ErrorKind::kFailed);
}

}  // namespace corral::dbus
