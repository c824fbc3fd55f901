#include "dbus/exec_socket.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/fd_receiving.h"
#include "dbus/interface.h"

namespace corral::dbus {

namespace {

// A connected client has this long to send its request: corralctl sends it right after
// connecting, so anything slower is not corralctl.
constexpr uint64_t kRequestDeadlineUsec = 5 * 1000000;

// How many connections may wait for their request at once; more are closed at accept.
constexpr size_t kMaxWaitingConnections = 256;

void Refuse(int connection, const char* error_name, std::string message) {
  ExecReply reply;
  reply.error_name = error_name;
  reply.message = std::move(message);
  SendExecReply(connection, reply);
}

}  // namespace

struct ExecSocket::Connection {
  ExecSocket* owner = nullptr;
  UniqueFd fd;
  sd_event_source* io = nullptr;
  sd_event_source* deadline = nullptr;
  ~Connection() {
    sd_event_source_disable_unref(io);
    sd_event_source_disable_unref(deadline);
  }
};

absl::StatusOr<std::unique_ptr<ExecSocket>> ExecSocket::Listen(sd_event* event, const std::string& path,
                                                               Handler handler) {
  std::unique_ptr<ExecSocket> socket(new ExecSocket);
  socket->event_ = event;
  socket->path_ = path;
  socket->handler_ = std::move(handler);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return absl::InvalidArgumentError("exec socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  socket->listener_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket->listener_) return ErrnoError("socket for the exec socket");
  ::unlink(path.c_str());
  // Root only from the first moment: bound under a umask that leaves nobody else anything.
  mode_t old_umask = ::umask(0077);
  int bound = ::bind(socket->listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::umask(old_umask);
  if (bound != 0 || ::listen(socket->listener_.get(), 64) != 0) return ErrnoError(absl::StrCat("listen on ", path));
  int r = sd_event_add_io(
      event, &socket->source_, socket->listener_.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        static_cast<ExecSocket*>(data)->Accept();
        return 0;
      },
      socket.get());
  if (r < 0) return ErrnoError(-r, "watch the exec socket");
  return socket;
}

ExecSocket::~ExecSocket() {
  for (Connection* connection : connections_) delete connection;
  sd_event_source_disable_unref(source_);
}

void ExecSocket::Accept() {
  for (;;) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) return;
    // The socket's mode keeps others out already; the peer's credentials say so again, as
    // the Exec method's RequireRoot does.
    ucred peer{};
    socklen_t length = sizeof(peer);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 || peer.uid != 0) {
      Refuse(fd.get(), kErrorAccessDenied, "exec needs root");
      continue;
    }
    if (connections_.size() >= kMaxWaitingConnections) {
      Refuse(fd.get(), kErrorFailed, "too many exec requests waiting; try again");
      continue;
    }
    auto* connection = new Connection;
    connection->owner = this;
    connection->fd = std::move(fd);
    connections_.insert(connection);
    int r = sd_event_add_io(
        event_, &connection->io, connection->fd.get(), EPOLLIN,
        [](sd_event_source*, int, uint32_t, void* data) -> int {
          auto* c = static_cast<Connection*>(data);
          c->owner->Read(c);
          return 0;
        },
        connection);
    if (r >= 0) {
      r = sd_event_add_time_relative(
          event_, &connection->deadline, CLOCK_MONOTONIC, kRequestDeadlineUsec, 0,
          [](sd_event_source*, uint64_t, void* data) -> int {
            auto* c = static_cast<Connection*>(data);
            c->owner->Drop(c);
            return 0;
          },
          connection);
    }
    if (r < 0) Drop(connection);
  }
}

void ExecSocket::Drop(Connection* connection) {
  connections_.erase(connection);
  delete connection;
}

void ExecSocket::Read(Connection* connection) {
  std::string buffer(kMaxExecMessage + 1, '\0');
  ExecSocketCall call;
  bool truncated = false;
  ssize_t n = ReceiveWithFds(connection->fd.get(), &buffer, &call.fds, &truncated);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  call.connection = std::move(connection->fd);
  Drop(connection);
  if (n <= 0) return;  // gone before asking
  if (truncated) {
    Refuse(call.connection.get(), kErrorInvalidArgument, "exec request too long or with too many fds");
    return;
  }
  absl::StatusOr<ExecRequest> request = DecodeExecRequest(absl::string_view(buffer.data(), static_cast<size_t>(n)));
  if (!request.ok()) {
    Refuse(call.connection.get(), kErrorInvalidArgument, std::string(request.status().message()));
    return;
  }
  size_t expected = kExecStdioFds + (request->pty_receiver ? 1 : 0);
  if (call.fds.size() != expected) {
    Refuse(call.connection.get(), kErrorInvalidArgument,
           absl::StrCat("exec request with ", call.fds.size(), " fds; it takes ", expected));
    return;
  }
  call.request = std::move(*request);
  handler_(std::move(call));
}

void SendExecReply(int connection, const ExecReply& reply) {
  std::string bytes = EncodeExecReply(reply);
  ::send(connection, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace corral::dbus
