#include "dbus/private_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace corral::dbus {

struct PrivateSocket::Connection {
  sd_bus* bus = nullptr;
  std::vector<SlotPtr> slots;
  EventSourcePtr cleanup;
  ~Connection() {
    slots.clear();
    cleanup.reset();
    sd_bus_detach_event(bus);
    sd_bus_flush_close_unref(bus);
  }
};

PrivateSocket::PrivateSocket(sd_event* event, Publish publish, Disconnected disconnected)
    : event_(event), publish_(std::move(publish)), disconnected_(std::move(disconnected)) {}

PrivateSocket::~PrivateSocket() {
  connections_.clear();
  source_.reset();
}

absl::Status PrivateSocket::Listen(const std::string& path) {
  RETURN_IF_ERROR(MakeDirectories(path.substr(0, path.rfind('/')), 0755));
  listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return absl::InvalidArgumentError("private socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  // The mode is set before anyone can connect: bind under a umask that leaves root only.
  mode_t old_umask = ::umask(0077);
  int bound = listener_.valid() ? ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) : -1;
  ::umask(old_umask);
  if (bound != 0 || ::listen(listener_.get(), 64) != 0) return ErrnoError(absl::StrCat("listen on ", path));
  sd_event_source* source = nullptr;
  int r = sd_event_add_io(
      event_, &source, listener_.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        static_cast<PrivateSocket*>(data)->Accept();
        return 0;
      },
      this);
  if (r < 0) return ErrnoError(-r, "watch the private socket");
  source_.reset(source);
  return absl::OkStatus();
}

void PrivateSocket::Accept() {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    auto connection = std::make_unique<Connection>();
    sd_id128_t server_id;
    sd_id128_randomize(&server_id);
    int r = sd_bus_new(&connection->bus);
    if (r >= 0) r = sd_bus_set_fd(connection->bus, fd, fd);
    if (r < 0) {
      ::close(fd);
      continue;
    }
    sd_bus_set_server(connection->bus, 1, server_id);
    sd_bus_negotiate_fds(connection->bus, 1);
    if (sd_bus_start(connection->bus) < 0 || sd_bus_attach_event(connection->bus, event_, 0) < 0 ||
        !publish_(connection->bus, &connection->slots).ok()) {
      continue;  // the destructor closes it
    }
    // sd-bus synthesizes Disconnected when the peer goes; the connection is freed from the
    // loop afterwards, not inside its own dispatch.
    sd_bus_slot* slot = nullptr;
    sd_bus_add_filter(
        connection->bus, &slot,
        [](sd_bus_message* m, void* data, sd_bus_error*) -> int {
          if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected")) {
            static_cast<PrivateSocket*>(data)->OnDisconnect(sd_bus_message_get_bus(m));
          }
          return 0;
        },
        this);
    connection->slots.emplace_back(slot);
    sd_bus* key = connection->bus;
    connections_[key] = std::move(connection);
  }
}

void PrivateSocket::OnDisconnect(sd_bus* bus) {
  disconnected_(bus);
  auto it = connections_.find(bus);
  if (it == connections_.end() || it->second->cleanup != nullptr) return;
  sd_event_source* cleanup = nullptr;
  sd_event_add_defer(
      event_, &cleanup,
      [](sd_event_source* source, void* data) -> int {
        auto* self = static_cast<PrivateSocket*>(data);
        for (auto i = self->connections_.begin(); i != self->connections_.end(); ++i) {
          if (i->second->cleanup.get() == source) {
            self->connections_.erase(i);
            break;
          }
        }
        return 0;
      },
      this);
  it->second->cleanup.reset(cleanup);
}

}  // namespace corral::dbus
