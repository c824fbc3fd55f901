#include "common/errors.h"

#include <errno.h>
#include <string.h>

#include "absl/strings/str_cat.h"

namespace corral {

absl::StatusCode StatusCodeFromErrno(int err) {
  switch (err) {
    case 0:
      return absl::StatusCode::kOk;
    case ENOENT:
    case ESRCH:
    case ENODEV:
    case ENXIO:
      return absl::StatusCode::kNotFound;
    case EEXIST:
    case EADDRINUSE:
      return absl::StatusCode::kAlreadyExists;
    case EPERM:
    case EACCES:
      return absl::StatusCode::kPermissionDenied;
    case EINVAL:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
    case ERANGE:
      return absl::StatusCode::kInvalidArgument;
    case ENOSPC:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EAGAIN:
      return absl::StatusCode::kResourceExhausted;
    case ENOSYS:
    case EOPNOTSUPP:
      return absl::StatusCode::kUnimplemented;
    case EBUSY:
      return absl::StatusCode::kFailedPrecondition;
    case ETIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return absl::StatusCode::kInternal;
  }
}

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : absl::StrCat(err);
}

absl::Status ErrnoError(int err, absl::string_view what) {
  return absl::Status(StatusCodeFromErrno(err),
                      absl::StrCat(what, ": ", strerrordesc_np(err) ? strerrordesc_np(err) : "unknown error",
                                   " (", ErrnoName(err), ")"));
}

absl::Status ErrnoError(absl::string_view what) { return ErrnoError(errno, what); }

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

absl::Status IgnoreNotFound(absl::Status status) { return absl::IsNotFound(status) ? absl::OkStatus() : status; }

}  // namespace corral
