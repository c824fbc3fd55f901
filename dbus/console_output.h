// The output of a command container: its stdout and stderr as one pipe to its supervisor,
// relayed from there to the console ring buffer, an attached console and the journal like
// what it writes to the console pty. A pipe, because a pty moves data a few KiB per wake-up
// through the tty layer (100 MiB took ~2-4 s here, a pipe 60-90 ms): issue 15's "logging costs
// the container nothing it can notice".
#ifndef CORRAL_DBUS_CONSOLE_OUTPUT_H_
#define CORRAL_DBUS_CONSOLE_OUTPUT_H_

#include <errno.h>
#include <unistd.h>

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace corral::dbus {

class ConsoleOutput {
 public:
  // Read chunks this large; the pipe holds kPipeBytes (when /proc/sys/fs/pipe-max-size allows).
  static constexpr size_t kChunkBytes = 256 * 1024;
  static constexpr int kPipeBytes = 1 << 20;

  // A pipe: the read end non-blocking and close-on-exec, the write end close-on-exec (the
  // container's dup2 onto its stdout and stderr keeps it there only).
  static absl::StatusOr<ConsoleOutput> Open();

  ConsoleOutput(ConsoleOutput&&) = default;
  ConsoleOutput& operator=(ConsoleOutput&&) = default;

  // The write end, for runtime::StartOptions::console_output; close it once the container runs.
  int child_end() const { return write_.get(); }
  void CloseChildEnd() { write_.reset(); }
  // The read end to poll (POLLIN), -1 once every writer is gone.
  int fd() const { return read_.get(); }

  // Reads what the pipe holds, up to `max_bytes`, handing each chunk to on_data(string_view).
  // At EOF (all the container's copies closed) the read end is closed and fd() is -1.
  template <typename OnData>
  void ReadAvailable(OnData on_data, size_t max_bytes = 4 * kChunkBytes);

 private:
  ConsoleOutput() = default;
  UniqueFd read_;
  UniqueFd write_;
  std::vector<char> buffer_;
};

template <typename OnData>
void ConsoleOutput::ReadAvailable(OnData on_data, size_t max_bytes) {
  size_t total = 0;
  while (read_.valid() && total < max_bytes) {
    ssize_t n = ::read(read_.get(), buffer_.data(), buffer_.size());
    if (n > 0) {
      on_data(absl::string_view(buffer_.data(), static_cast<size_t>(n)));
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < buffer_.size()) return;  // drained for now
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    read_.reset();  // EOF, or an error no later read would clear
  }
}

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_CONSOLE_OUTPUT_H_
