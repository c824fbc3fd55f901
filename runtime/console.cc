#include "runtime/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace corral::runtime {

absl::StatusOr<Pty> OpenPty() {
  Pty pty;
  pty.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master) return ErrnoError("posix_openpt /dev/ptmx");
  if (::grantpt(pty.master.get()) != 0) return ErrnoError("grantpt");
  if (::unlockpt(pty.master.get()) != 0) return ErrnoError("unlockpt");
  char name[128];
  if (int err = ::ptsname_r(pty.master.get(), name, sizeof(name)); err != 0) return ErrnoError(err, "ptsname");
  pty.slave_path = name;
  pty.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) return ErrnoError(absl::StrCat("open ", name));
  return pty;
}

void CopyWindowSize(int from_tty, int master) {
  struct winsize size;
  if (::ioctl(from_tty, TIOCGWINSZ, &size) == 0) ::ioctl(master, TIOCSWINSZ, &size);
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  struct termios attrs;
  if (!::isatty(fd) || ::tcgetattr(fd, &attrs) != 0) return;
  saved_ = attrs;
  ::cfmakeraw(&attrs);
  ::tcsetattr(fd, TCSANOW, &attrs);
}

RawTerminal::~RawTerminal() {
  if (saved_) ::tcsetattr(fd_, TCSANOW, &*saved_);
}

namespace {

// Writes all of `data`, waiting when the fd is non-blocking and full.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<RelayEnd> RelayConsole(int master, int in_fd, int out_fd, const RelayOptions& options) {
  bool input_open = in_fd >= 0;
  bool saw_prefix = false;  // the last key was Ctrl-a
  char buf[16384];
  for (;;) {
    struct pollfd fds[3] = {{master, POLLIN, 0}, {input_open ? in_fd : -1, POLLIN, 0}, {options.stop_fd, POLLIN, 0}};
    int n = ::poll(fds, 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("poll console");
    }
    if (fds[0].revents & POLLIN) {
      ssize_t got = ::read(master, buf, sizeof(buf));
      if (got > 0) {
        if (!WriteAll(out_fd, buf, static_cast<size_t>(got))) return ErrnoError("write console output");
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        return RelayEnd::kHangup;  // EIO: every slave fd is closed, the container is gone
      }
    } else if (fds[0].revents & (POLLHUP | POLLERR)) {
      return RelayEnd::kHangup;
    }
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      ssize_t got = ::read(in_fd, buf, sizeof(buf));
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        input_open = false;  // stdin closed: keep showing output
      } else {
        size_t start = 0;
        if (options.detach_keys) {
          for (ssize_t i = 0; i < got; ++i) {
            if (saw_prefix && (buf[i] == 'q' || buf[i] == 'Q')) return RelayEnd::kDetached;
            saw_prefix = buf[i] == 0x01;
          }
        }
        if (!WriteAll(master, buf + start, static_cast<size_t>(got) - start)) {
          return ErrnoError("write console input");
        }
      }
    }
    if (options.stop_fd >= 0 && (fds[2].revents & POLLIN)) return RelayEnd::kStopped;
  }
}

}  // namespace corral::runtime
