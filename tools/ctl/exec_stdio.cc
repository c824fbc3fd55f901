#include "tools/ctl/exec_stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace corral::tools {

namespace {

void SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Writes all of `data` to one of our own stdio fds (which may have been left non-blocking by
// whoever gave it to us). False when it is gone.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p = {fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExecStdio>> ExecStdio::Prepare(bool container_pty) {
  std::unique_ptr<ExecStdio> io(new ExecStdio);
  // A reader that went away must be an error we see, not a signal that kills us (and leaves
  // the command without its caller).
  ::signal(SIGPIPE, SIG_IGN);
  bool tty[3];
  for (int i = 0; i < 3; ++i) tty[i] = ::isatty(i) == 1;
  for (int i = 0; i < 3 && io->tty_fd_ < 0; ++i) {
    if (tty[i]) io->tty_fd_ = i;
  }
  if (container_pty) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
      return ErrnoError("socketpair for the container's pty");
    }
    io->local_receiver_.reset(pair[0]);
    io->remote_receiver_.reset(pair[1]);
    // The call still carries three stdio fds; corrald ignores them with PtyReceiver.
    for (UniqueFd& fd : io->command_) {
      fd.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
      if (!fd) return ErrnoError("open /dev/null");
    }
    io->controlling_tty_ = true;
    io->input_to_master_ = true;
    io->master_out_ = 1;
  } else {
    if (tty[0] || tty[1] || tty[2]) {
      ASSIGN_OR_RETURN(runtime::Pty pty, runtime::OpenPty());
      runtime::CopyWindowSize(io->tty_fd_, pty.master.get());
      io->master_ = std::move(pty.master);
      SetNonBlocking(io->master_.get());
      for (int i = 0; i < 3; ++i) {
        if (tty[i]) io->command_[i].reset(::fcntl(pty.slave.get(), F_DUPFD_CLOEXEC, 3));
      }
      io->controlling_tty_ = tty[0];
      io->input_to_master_ = tty[0];
      io->master_out_ = tty[1] ? 1 : tty[2] ? 2 : 0;
    }
    for (int i = 0; i < 3; ++i) {
      if (tty[i]) continue;
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return ErrnoError("pipe for the command's stdio");
      UniqueFd read_end(p[0]), write_end(p[1]);
      if (i == 0) {
        io->command_[0] = std::move(read_end);
        io->stdin_pipe_ = std::move(write_end);
        SetNonBlocking(io->stdin_pipe_.get());
      } else {
        io->command_[i] = std::move(write_end);
        UniqueFd& ours = i == 1 ? io->stdout_pipe_ : io->stderr_pipe_;
        ours = std::move(read_end);
        SetNonBlocking(ours.get());
      }
    }
  }
  for (const UniqueFd& fd : io->command_) {
    if (!fd) return ErrnoError("set up the command's stdio");
  }
  if (io->tty_fd_ >= 0) {
    sigset_t winch;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    sigprocmask(SIG_BLOCK, &winch, nullptr);
    io->winch_.reset(::signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  // Keys reach the command's pty unchanged; its line discipline does the echo and Ctrl-C.
  if (io->input_to_master_ && tty[0]) io->raw_ = std::make_unique<runtime::RawTerminal>(0);
  return io;
}

ExecStdio::~ExecStdio() = default;

void ExecStdio::CallSent() {
  for (UniqueFd& fd : command_) fd.reset();
  remote_receiver_.reset();
}

void ExecStdio::ReceiveMaster() {
  char byte;
  iovec iov = {&byte, 1};
  union {
    cmsghdr header;
    char buffer[CMSG_SPACE(sizeof(int))];
  } control;
  msghdr message = {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control.buffer;
  message.msg_controllen = sizeof(control.buffer);
  ssize_t n = ::recvmsg(local_receiver_.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); n > 0 && c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
      master_.reset(fd);
    }
  }
  local_receiver_.reset();  // one pty per exec; EOF or an error: corrald's reply says why
  if (master_) {
    SetNonBlocking(master_.get());
    if (tty_fd_ >= 0) runtime::CopyWindowSize(tty_fd_, master_.get());
  }
}

void ExecStdio::FlushInput() {
  int target = input_to_master_ ? master_.get() : stdin_pipe_.get();
  while (!pending_input_.empty() && target >= 0) {
    ssize_t n = ::write(target, pending_input_.data(), pending_input_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      // The command closed its stdin: nothing more to give it.
      pending_input_.clear();
      input_open_ = false;
      stdin_pipe_.reset();
      return;
    }
    pending_input_.erase(0, static_cast<size_t>(n));
  }
  // Our stdin ended and all of it is delivered: the command sees EOF on its pipe.
  if (!input_open_ && pending_input_.empty()) stdin_pipe_.reset();
}

void ExecStdio::PumpInput() {
  char buffer[4096];
  ssize_t n = ::read(0, buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    input_open_ = false;  // a pty has no EOF to pass on; a pipe gets closed once flushed
  } else {
    pending_input_.append(buffer, static_cast<size_t>(n));
  }
  FlushInput();
}

void ExecStdio::PumpOutput(UniqueFd* from, int to, size_t budget) {
  char buffer[16384];
  while (budget > 0) {
    ssize_t n = ::read(from->get(), buffer, std::min(sizeof(buffer), budget));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    // EOF, or EIO from a pty master whose slaves are all closed.
    if (n <= 0 || !WriteAll(to, buffer, static_cast<size_t>(n))) {
      from->reset();
      return;
    }
    budget -= static_cast<size_t>(n);
  }
}

absl::Status ExecStdio::Relay(ReplyWait& reply) {
  for (;;) {
    ASSIGN_OR_RETURN(bool done, reply.Process());
    if (done) break;
    int target = input_to_master_ ? master_.get() : stdin_pipe_.get();
    std::vector<pollfd> fds;
    fds.push_back(reply.PollFd());
    uint64_t timeout_usec = reply.DeadlineUsec();
    auto add = [&fds](int fd, short events) {
      if (fd >= 0) fds.push_back({fd, events, 0});
    };
    add(local_receiver_.get(), POLLIN);
    add(master_.get(), POLLIN);
    add(stdout_pipe_.get(), POLLIN);
    add(stderr_pipe_.get(), POLLIN);
    add(winch_.get(), POLLIN);
    // Our stdin is read only when the command's side can take it.
    if (input_open_ && target >= 0 && pending_input_.empty()) add(0, POLLIN);
    if (target >= 0 && !pending_input_.empty()) add(target, POLLOUT);
    int timeout_ms = -1;
    if (timeout_usec != UINT64_MAX) {  // absolute, CLOCK_MONOTONIC
      timespec ts;
      ::clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
      timeout_ms = timeout_usec > now ? static_cast<int>((timeout_usec - now + 999) / 1000) : 0;
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) return ErrnoError("poll");
    for (size_t i = 1; i < fds.size(); ++i) {
      const pollfd& p = fds[i];
      if (p.revents == 0) continue;
      if (p.fd == local_receiver_.get()) {
        ReceiveMaster();
      } else if (p.fd == master_.get() && (p.events & POLLIN)) {
        PumpOutput(&master_, master_out_);
      } else if (p.fd == stdout_pipe_.get()) {
        PumpOutput(&stdout_pipe_, 1);
      } else if (p.fd == stderr_pipe_.get()) {
        PumpOutput(&stderr_pipe_, 2);
      } else if (p.fd == winch_.get()) {
        signalfd_siginfo info;
        while (::read(winch_.get(), &info, sizeof(info)) == sizeof(info)) {
        }
        if (master_) runtime::CopyWindowSize(tty_fd_, master_.get());
      } else if (p.fd == 0 && (p.events & POLLIN)) {
        PumpInput();
      } else if (p.events & POLLOUT) {
        FlushInput();
      }
    }
  }
  // The command has exited: what it wrote is in the pipes and the pty already (a write that
  // did not fit would have kept it from exiting). Whatever descendants write later is not ours
  // to wait for: only what is buffered now (FIONREAD) is copied, so a process left behind that
  // keeps writing cannot hold us.
  for (auto [from, to] : {std::pair{&master_, master_out_}, {&stdout_pipe_, 1}, {&stderr_pipe_, 2}}) {
    int buffered = 0;
    if (*from && ::ioctl(from->get(), FIONREAD, &buffered) == 0 && buffered > 0) {
      PumpOutput(from, to, static_cast<size_t>(buffered));
    }
  }
  return absl::OkStatus();
}

}  // namespace corral::tools
