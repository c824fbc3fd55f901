// Errors that carry the failing step, the syscall or path, and errno text, as absl::Status.
// "mount /proc in rootfs: mount(/var/lib/x/proc): Permission denied (EACCES)".
#ifndef CORRAL_COMMON_ERRORS_H_
#define CORRAL_COMMON_ERRORS_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace corral {

// The status code that best matches an errno (ENOENT -> NotFound, EPERM -> PermissionDenied...).
absl::StatusCode StatusCodeFromErrno(int err);

// "<what>: <strerror> (<ERRNAME>)" with a code chosen from errno.
absl::Status ErrnoError(int err, absl::string_view what);

// Same, with the current errno.
absl::Status ErrnoError(absl::string_view what);

// Symbolic errno name ("ENOENT"), or the number as text when unknown.
std::string ErrnoName(int err);

// Returns `status` with "<context>: " prepended to its message, same code.
// OK for NotFound (removing what is already gone), else `status` itself.
absl::Status IgnoreNotFound(absl::Status status);

absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace corral

#endif  // CORRAL_COMMON_ERRORS_H_
