#include "dbus/supervisor/console_server.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/fd_passing.h"
#include "runtime/console.h"

namespace corral::dbus {

absl::Status ConsoleServer::Listen(const std::string& path) {
  ::unlink(path.c_str());
  listener_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return absl::InvalidArgumentError("console socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (!listener_.valid() || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener_.get(), 4) != 0) {
    return ErrnoError(absl::StrCat("listen on ", path));
  }
  return absl::OkStatus();
}

std::string ConsoleServer::Accept() {
  UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!client.valid()) return "";
  absl::StatusOr<runtime::Pty> proxy = runtime::OpenPty();
  if (!proxy.ok()) return std::string(proxy.status().message());
  // The proxy's slave is ours: raw, so bytes pass unchanged between client and container.
  struct termios raw;
  if (::tcgetattr(proxy->slave.get(), &raw) == 0) {
    ::cfmakeraw(&raw);
    ::tcsetattr(proxy->slave.get(), TCSANOW, &raw);
  }
  if (SendWithFd(client.get(), proxy->slave_path.data(), proxy->slave_path.size(), proxy->master.get()) != 0) return "";
  session_ = std::move(proxy->slave);
  if (!ring_.empty()) (void)!::write(session_.get(), ring_.data(), ring_.size());
  return "";
}

void ConsoleServer::Output(absl::string_view data) {
  ring_.append(data.data(), data.size());
  if (ring_.size() > kRingBytes) ring_.erase(0, ring_.size() - kRingBytes);
  if (session_.valid() && ::write(session_.get(), data.data(), data.size()) < 0) session_.reset();
}

void ConsoleServer::Input(int console) {
  char buffer[4096];
  ssize_t n = ::read(session_.get(), buffer, sizeof(buffer));
  if (n > 0) {
    (void)!::write(console, buffer, n);
  } else if (n == 0 || errno != EAGAIN) {
    session_.reset();
  }
}

}  // namespace corral::dbus
