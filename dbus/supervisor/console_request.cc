#include "dbus/supervisor/console_request.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/unique_fd.h"
#include "dbus/bus_ptr.h"

namespace corral::dbus {

namespace {

struct Pending {
  UniqueFd socket;
  std::string path;
  std::function<void(absl::StatusOr<ConsoleSession>)> done;
  EventSourcePtr io;
  EventSourcePtr timer;
};

// The supervisor's answer: the pty's path as data, its master as SCM_RIGHTS.
absl::StatusOr<ConsoleSession> Receive(int fd) {
  char name[128];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{name, sizeof(name) - 1};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(fd, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n <= 0) return ErrnoError(n == 0 ? EPIPE : errno, "receive the console from the supervisor");
  cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
  if (cmsg == nullptr || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
    return absl::InternalError("the supervisor sent no console");
  }
  int master = -1;
  std::memcpy(&master, CMSG_DATA(cmsg), sizeof(int));
  return ConsoleSession{UniqueFd(master), std::string(name, static_cast<size_t>(n))};
}

}  // namespace

void RequestConsoleAsync(sd_event* event, const ContainerPaths& paths, uint64_t timeout_usec,
                         std::function<void(absl::StatusOr<ConsoleSession>)> done) {
  auto pending = std::make_unique<Pending>();
  pending->path = paths.console_socket();
  pending->done = std::move(done);
  pending->socket.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!pending->socket.valid()) return pending->done(ErrnoError("socket for the console"));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (pending->path.size() >= sizeof(address.sun_path)) {
    return pending->done(absl::InvalidArgumentError("console socket path too long"));
  }
  std::memcpy(address.sun_path, pending->path.c_str(), pending->path.size() + 1);
  if (::connect(pending->socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    // A unix socket whose backlog is full answers EAGAIN to a non-blocking connect: its
    // supervisor is not accepting (stopped, stuck).
    if (errno == EAGAIN) {
      return pending->done(absl::UnavailableError(absl::StrCat(
          "the container's supervisor does not accept console sessions (", pending->path, ": backlog full)")));
    }
    return pending->done(ErrnoError(absl::StrCat("connect to the container's supervisor at ", pending->path)));
  }
  Pending* p = pending.get();
  sd_event_source* io = nullptr;
  sd_event_source* timer = nullptr;
  int r = sd_event_add_io(
      event, &io, p->socket.get(), EPOLLIN,
      [](sd_event_source*, int fd, uint32_t, void* data) -> int {
        std::unique_ptr<Pending> self(static_cast<Pending*>(data));
        self->done(Receive(fd));
        return 0;
      },
      p);
  p->io.reset(io);
  if (r >= 0) {
    r = sd_event_add_time_relative(
        event, &timer, CLOCK_MONOTONIC, timeout_usec, 0,
        [](sd_event_source*, uint64_t, void* data) -> int {
          std::unique_ptr<Pending> self(static_cast<Pending*>(data));
          self->done(absl::DeadlineExceededError(
              absl::StrCat("the container's supervisor did not hand over a console session within 2 s (",
                           self->path, ")")));
          return 0;
        },
        p);
  }
  p->timer.reset(timer);
  if (r < 0) return pending->done(ErrnoError(-r, "watch the console socket"));
  pending.release();  // owned by its event sources' callbacks from here on
}

}  // namespace corral::dbus
