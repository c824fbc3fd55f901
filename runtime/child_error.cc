#include "runtime/child_error.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace corral::runtime {

absl::Status ChildErrorToStatus(const ChildError& record) {
  std::string what = record.path[0] != '\0' ? absl::StrCat(record.step, " `", record.path, "`")
                                             : std::string(record.step);
  absl::Status status = ErrnoError(record.err, what);
  if (record.is_exec) {
    if (record.err == ENOENT) {
      status = absl::NotFoundError(absl::StrCat("command not found in the container: `", record.path,
                                                "` (exec: No such file or directory)"));
    }
    status.SetPayload(kExecFailurePayload, absl::Cord(ErrnoName(record.err)));
  }
  return status;
}

bool IsExecFailure(const absl::Status& status) {
  return status.GetPayload(kExecFailurePayload).has_value();
}

}  // namespace corral::runtime
