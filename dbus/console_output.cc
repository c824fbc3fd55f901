#include "dbus/console_output.h"

#include <fcntl.h>

#include "common/errors.h"

namespace corral::dbus {

absl::StatusOr<ConsoleOutput> ConsoleOutput::Open() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe for the container's output");
  ConsoleOutput out;
  out.read_.reset(fds[0]);
  out.write_.reset(fds[1]);
  int flags = ::fcntl(fds[0], F_GETFL);
  if (flags < 0 || ::fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoError("make the container's output pipe non-blocking");
  }
  // Fewer wake-ups for a flood; a smaller pipe (pipe-max-size lowered) only costs speed.
  (void)::fcntl(fds[1], F_SETPIPE_SZ, kPipeBytes);
  out.buffer_.resize(kChunkBytes);
  return out;
}

}  // namespace corral::dbus
