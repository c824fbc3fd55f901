// The stdio of `corralctl exec`: the command never gets the caller's own terminal or files
// (a terminal can be read later or fed with TIOCSTI, a file fd reopened through
// /proc/self/fd with other modes), but pipes and a pty made here, relayed to the caller's.
#ifndef CORRAL_TOOLS_CTL_EXEC_STDIO_H_
#define CORRAL_TOOLS_CTL_EXEC_STDIO_H_

#include <poll.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/console.h"

namespace corral::tools {

// What the relay waits for besides the streams: the call's reply, on the bus or on corrald's
// exec socket.
class ReplyWait {
 public:
  virtual ~ReplyWait() = default;
  // The fd to poll and for what.
  virtual pollfd PollFd() = 0;
  // When to call Process() at the latest (CLOCK_MONOTONIC, usec); UINT64_MAX for never.
  virtual uint64_t DeadlineUsec() { return UINT64_MAX; }
  // Reads what has come; true once the reply is in. Called before each poll and after it.
  virtual absl::StatusOr<bool> Process() = 0;
};

class ExecStdio {
 public:
  // container_pty (exec -t): corrald allocates the pty inside the container and sends its
  // master on pty_receiver(). Otherwise each of our stdio streams that is a terminal is
  // replaced by the slave of a new pty (as lxc-attach does) and every other one by a pipe.
  static absl::StatusOr<std::unique_ptr<ExecStdio>> Prepare(bool container_pty);
  ~ExecStdio();

  // What the call passes as stdin, stdout, stderr.
  int command_fd(int stream) const { return command_[stream].get(); }
  // The socket to pass as PtyReceiver, or -1.
  int pty_receiver() const { return remote_receiver_.get(); }
  // True when the command's stdin is a pty slave that should become its controlling terminal.
  bool controlling_tty() const { return controlling_tty_; }

  // Closes our copies of the command's ends (the call message holds its own).
  void CallSent();
  // Relays between our stdio and the command's until the reply is in (`reply`); then takes
  // what the command wrote last.
  absl::Status Relay(ReplyWait& reply);

 private:
  ExecStdio() = default;
  void ReceiveMaster();
  void PumpInput();
  void FlushInput();
  // Copies what is readable on `*from` to `to`, at most `budget` bytes (a container that keeps
  // writing must not keep us from the bus and our stdin); closes `*from` at its end or when
  // `to` is gone (so the command sees EPIPE, as it would on the caller's pipe).
  void PumpOutput(UniqueFd* from, int to, size_t budget = kPumpBudget);
  static constexpr size_t kPumpBudget = 256 * 1024;

  UniqueFd command_[3];
  bool controlling_tty_ = false;
  UniqueFd local_receiver_, remote_receiver_;
  UniqueFd master_;           // the pty's master (ours or the container's)
  int master_out_ = 1;        // where the pty's output goes
  UniqueFd stdin_pipe_;       // our end of the command's stdin pipe
  UniqueFd stdout_pipe_, stderr_pipe_;
  bool input_open_ = true;    // our stdin not at EOF yet
  bool input_to_master_ = false;
  std::string pending_input_;
  int tty_fd_ = -1;           // one of our stdio that is a terminal (window size), or -1
  UniqueFd winch_;
  std::unique_ptr<runtime::RawTerminal> raw_;
};

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_EXEC_STDIO_H_
