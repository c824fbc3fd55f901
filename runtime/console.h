// The container console: a pty whose slave becomes the container's /dev/console and stdio and
// whose master stays with the parent, plus the relay that copies between it and a terminal.
#ifndef CORRAL_RUNTIME_CONSOLE_H_
#define CORRAL_RUNTIME_CONSOLE_H_

#include <termios.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace corral::runtime {

struct Pty {
  UniqueFd master;
  UniqueFd slave;
  std::string slave_path;  // /dev/pts/N on the host
};

// Opens a new pty pair on the host's devpts, both ends O_CLOEXEC and not our controlling tty.
absl::StatusOr<Pty> OpenPty();

// Copies the window size of `from_tty` to the pty master, if `from_tty` is a terminal.
void CopyWindowSize(int from_tty, int master);

// Puts a terminal in raw mode for as long as it lives, so keys reach the container unchanged.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  std::optional<struct termios> saved_;
};

struct RelayOptions {
  // Ctrl-a q detaches (returns kDetached) when set, as `corralctl console` does.
  bool detach_keys = false;
  // Polled with the relay; when readable, the relay stops (e.g. a signalfd or pidfd).
  int stop_fd = -1;
};

enum class RelayEnd { kHangup, kDetached, kStopped };

// Copies in_fd -> master and master -> out_fd until the pty hangs up, the user detaches, or
// stop_fd becomes readable. EOF on in_fd stops the input side only.
absl::StatusOr<RelayEnd> RelayConsole(int master, int in_fd, int out_fd, const RelayOptions& options);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CONSOLE_H_
