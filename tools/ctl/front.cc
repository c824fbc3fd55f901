// corralctl: root's `exec` straight to corrald's exec socket (dbus/exec_wire.h), everything
// else (and exec when that socket is not there) by the D-Bus client, corralctl-dbus, which
// this program execs. This one links no libsystemd: loading it and the libraries it pulls in
// (libgcrypt, liblzma, libzstd, liblz4, libcap) cost more than half a millisecond of CPU per
// run, a third of an exec's whole time.
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fd_passing.h"
#include "common/unique_fd.h"
#include "dbus/exec_wire.h"
#include "tools/ctl/exec_args.h"
#include "tools/ctl/exec_stdio.h"

namespace corral::tools {
namespace {

constexpr int kExitFailed = 1;

int Fail(absl::string_view message) {
  std::fprintf(stderr, "corralctl: %.*s\n", static_cast<int>(message.size()), message.data());
  return kExitFailed;
}

// The reply on the exec socket: one message, or the socket closing without one.
class SocketReplyWait : public ReplyWait {
 public:
  // The buffer once: Process() runs before every poll of the relay.
  explicit SocketReplyWait(int socket) : socket_(socket), buffer_(dbus::kMaxExecMessage + 1, '\0') {}
  pollfd PollFd() override { return {socket_, POLLIN, 0}; }
  absl::StatusOr<bool> Process() override {
    std::string& buffer = buffer_;
    ssize_t n = ::recv(socket_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    if (n <= 0) return absl::UnavailableError("corrald closed the exec connection without an answer");
    absl::StatusOr<dbus::ExecReply> decoded =
        dbus::DecodeExecReply(absl::string_view(buffer.data(), static_cast<size_t>(n)));
    if (!decoded.ok()) return decoded.status();
    reply_ = std::move(*decoded);
    return true;
  }
  const dbus::ExecReply& reply() const { return reply_; }

 private:
  int socket_;
  std::string buffer_;
  dbus::ExecReply reply_;
};

// Connected to corrald's exec socket, or invalid when it is not there to take us (no corrald,
// an older one, a socket left behind): then the D-Bus client does the exec.
UniqueFd ConnectExecSocket() {
  std::string path = absl::StrCat(dbus::kDefaultRunDir, "/", dbus::kExecSocketName);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return UniqueFd();
  return fd;
}

// Runs the exec through the socket; false (nothing done, nothing printed) when the D-Bus client
// should do it instead: not root, arguments it must judge, no socket.
bool ExecThroughSocket(const std::vector<std::string>& args, int* exit_code) {
  if (::geteuid() != 0) return false;
  absl::StatusOr<ExecArgs> parsed = ParseExecArgs(args);
  if (!parsed.ok()) return false;  // its usage message is the D-Bus client's
  UniqueFd socket = ConnectExecSocket();
  if (!socket) return false;
  // The command gets pipes and ptys made here, never our own stdio (exec_stdio.h).
  absl::StatusOr<std::unique_ptr<ExecStdio>> io = ExecStdio::Prepare(parsed->tty);
  if (!io.ok()) {
    *exit_code = Fail(io.status().message());
    return true;
  }
  dbus::ExecRequest request;
  request.name = parsed->name;
  request.command = parsed->command;
  request.env = parsed->env;
  request.user = parsed->user;
  request.cwd = parsed->cwd;
  request.tty = (*io)->controlling_tty();
  request.pty_receiver = (*io)->pty_receiver() >= 0;
  absl::StatusOr<std::string> bytes = dbus::EncodeExecRequest(request);
  if (!bytes.ok()) {
    *exit_code = Fail(bytes.status().message());
    return true;
  }
  int fds[4] = {(*io)->command_fd(0), (*io)->command_fd(1), (*io)->command_fd(2), (*io)->pty_receiver()};
  if (int err = SendWithFds(socket.get(), bytes->data(), bytes->size(), fds, request.pty_receiver ? 4 : 3);
      err != 0) {
    *exit_code = Fail(absl::StrCat("send the exec request to corrald: ", std::strerror(err)));
    return true;
  }
  (*io)->CallSent();
  SocketReplyWait wait(socket.get());
  absl::Status relayed = (*io)->Relay(wait);
  io->reset();  // the terminal back to how it was before any message
  if (!relayed.ok()) {
    *exit_code = Fail(relayed.message());
    return true;
  }
  *exit_code = wait.reply().exited ? wait.reply().exit_status : Fail(wait.reply().message);
  return true;
}

// The D-Bus client: beside this program (the build tree), else in ../libexec/corral.
std::string DBusClientPath() {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string("/usr/local/bin/corralctl");
  dir = dir.substr(0, dir.rfind('/'));
  std::string beside = dir + "/corralctl-dbus";
  if (::access(beside.c_str(), X_OK) == 0) return beside;
  return dir + "/../libexec/corral/corralctl-dbus";
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "exec") == 0) {
    int exit_code = 0;
    if (ExecThroughSocket(std::vector<std::string>(argv + 2, argv + argc), &exit_code)) return exit_code;
  }
  std::string client = DBusClientPath();
  ::execv(client.c_str(), argv);
  return Fail(absl::StrCat("cannot run ", client, ": ", std::strerror(errno)));
}

}  // namespace
}  // namespace corral::tools

int main(int argc, char** argv) { return corral::tools::Main(argc, argv); }
