#include "runtime/child_sync.h"

#include <unistd.h>

#include "common/errors.h"
#include "runtime/child_error.h"

namespace corral::runtime {

absl::StatusOr<ChildSync> ChildSync::Open() {
  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0) {
    return ErrnoError("socketpair for the container start");
  }
  return ChildSync(UniqueFd(sync[0]), UniqueFd(sync[1]));
}

absl::Status ChildSync::SendGo(const GoFds& fds) {
  size_t count = static_cast<size_t>(GoFd::kCount);
  while (count > 0 && fds.fds[count - 1] < 0) --count;
  for (size_t i = 0; i < count; ++i) {
    if (fds.fds[i] < 0) return absl::InternalError("a go message with an empty fd slot before a full one");
  }
  const uint8_t message = static_cast<uint8_t>(SyncMessage::kGo);
  if (int err = SendWithFds(parent_.get(), &message, 1, fds.fds, count); err != 0) {
    return ErrnoError(err, "signal the container to start");
  }
  return absl::OkStatus();
}

absl::Status ChildSync::AwaitExec(bool* failed) {
  *failed = false;
  ChildError record;
  ssize_t got;
  do {
    got = ::read(parent_.get(), &record, sizeof(record));
  } while (got < 0 && errno == EINTR);
  if (got < 0) return ErrnoError("read the container's start report");
  if (got == 0) return absl::OkStatus();  // every copy of the child's end closed by execve: started
  *failed = true;
  if (got != sizeof(record)) return absl::InternalError("truncated start report from the container");
  return ChildErrorToStatus(record);
}

}  // namespace corral::runtime
