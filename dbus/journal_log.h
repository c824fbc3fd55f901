// What a container writes to its console, as journal entries its supervisor sends to journald
// (CONTAINER_NAME=, CORRAL_UNIT=, SYSLOG_IDENTIFIER=, PRIORITY= from "<N>" prefixes), and
// corrald's own structured messages: the native journal protocol, never blocking.
//
// The console relay must never wait on journald: entries go out as datagrams with MSG_DONTWAIT
// (what journald cannot take right now is counted as dropped), lines are cut at kMaxLineBytes,
// and a budget of lines per interval keeps a flood from filling the journal (and from tripping
// journald's own per-unit rate limit, which would drop the lines after it too): past the budget
// lines are only counted, and one "N lines suppressed" entry follows when the interval ends.
#ifndef CORRAL_DBUS_JOURNAL_LOG_H_
#define CORRAL_DBUS_JOURNAL_LOG_H_

#include "common/clock.h"
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace corral::dbus {

// Syslog priorities, as journald's PRIORITY= field has them.
inline constexpr int kPriorityErr = 3;
inline constexpr int kPriorityWarning = 4;
inline constexpr int kPriorityNotice = 5;
inline constexpr int kPriorityInfo = 6;

// A line's "<N>" prefix (sd-daemon's SD_ERR and friends, the kernel's printk levels; a syslog
// "<PRI>" with a facility, up to 191, gives its level PRI & 7), removed from `line`; the line
// unchanged and `fallback` when there is none.
int TakePriorityPrefix(absl::string_view* line, int fallback);

// Cuts a byte stream into lines: '\n' ends one (a '\r' before it, which a pty's ONLCR adds,
// is dropped), and a line longer than max_line is cut there, its rest the next line.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line) : max_line_(max_line) {}
  // Calls on_line(absl::string_view) for every line `data` completes.
  template <typename OnLine>
  void Feed(absl::string_view data, OnLine on_line);
  // The unterminated rest, if any, as a last line (at the end of the container's run).
  template <typename OnLine>
  void Flush(OnLine on_line);
  bool has_partial() const { return !partial_.empty(); }

 private:
  size_t max_line_;
  std::string partial_;
};

// A budget of `burst` lines per `interval_usec`, counted in fixed windows.
class LineRateLimiter {
 public:
  LineRateLimiter(uint64_t interval_usec, uint32_t burst) : interval_(interval_usec), burst_(burst) {}
  // Whether a line at `now_usec` may pass; one that may not is counted as suppressed.
  bool Allow(uint64_t now_usec);
  // Once the window in which lines were suppressed is over: how many (then counting anew);
  // 0 otherwise.
  uint64_t TakeSuppressed(uint64_t now_usec);
  // When TakeSuppressed will have something to say (0: nothing pending).
  uint64_t NoticeDueUsec() const { return suppressed_ == 0 ? 0 : window_start_ + interval_; }

 private:
  void Roll(uint64_t now_usec);
  uint64_t interval_;
  uint32_t burst_;
  uint64_t window_start_ = 0;
  uint32_t used_ = 0;
  uint64_t suppressed_ = 0;
};

// One entry in journald's native protocol: "KEY=VALUE\n" per field, or for a value holding a
// newline "KEY\n", its length as 64-bit little endian, the value and "\n".
std::string FormatJournalEntry(const std::vector<std::pair<std::string, std::string>>& fields);

// Sends entries to journald's native socket (/run/systemd/journal/socket). Never blocks: an
// entry journald's queue cannot take now is dropped (Send returns false). Not connected, so a
// restarted journald is found again at the next entry.
class JournalSender {
 public:
  explicit JournalSender(std::string socket_path = "/run/systemd/journal/socket");
  bool Send(const std::vector<std::pair<std::string, std::string>>& fields);

 private:
  std::string path_;
  UniqueFd socket_;
};

// The console of one container into the journal: lines, their priorities, the budget.
class ConsoleJournal {
 public:
  static constexpr size_t kMaxLineBytes = 8192;
  // 1000 lines each 5 s: 6000 in journald's default 30 s window, below its 10000 per unit.
  static constexpr uint64_t kIntervalUsec = 5'000'000;
  static constexpr uint32_t kBurst = 1000;

  ConsoleJournal(std::string name, std::string unit, std::string socket_path = "/run/systemd/journal/socket",
                 uint64_t interval_usec = kIntervalUsec, uint32_t burst = kBurst);
  // The console's bytes, as read; now_usec on CLOCK_MONOTONIC.
  void Feed(absl::string_view data, uint64_t now_usec);
  // Sends the "suppressed" notice once its window is over; call when PollTimeoutMs elapsed.
  void Tick(uint64_t now_usec);
  // How long the caller's poll may sleep before Tick has work (-1: for ever).
  int PollTimeoutMs(uint64_t now_usec) const;
  // The end of the run: the unterminated rest and any pending notice.
  void Flush(uint64_t now_usec);

  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }

 private:
  void Line(absl::string_view line, uint64_t now_usec);
  void SendLine(absl::string_view message, int priority);
  void Notice(uint64_t now_usec, bool force);

  std::string name_;
  std::string unit_;
  JournalSender sender_;
  LineSplitter splitter_{kMaxLineBytes};
  uint64_t interval_usec_;
  uint32_t burst_;
  LineRateLimiter limiter_;
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;     // journald's queue was full
  uint64_t unreported_drops_ = 0;
  uint64_t last_drop_notice_usec_ = 0;
};

// corrald's own messages, with structured fields (CORRAL_CONTAINER=NAME, CORRAL_EVENT=...):
// to the journal, SYSLOG_IDENTIFIER=corrald; to stderr as well when there is no journal (a
// corrald run by hand, a test).
void LogMessage(int priority, absl::string_view message,
                const std::vector<std::pair<std::string, std::string>>& fields = {});


// ---- templates ----

template <typename OnLine>
void LineSplitter::Feed(absl::string_view data, OnLine on_line) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    size_t take = newline == absl::string_view::npos ? data.size() : newline;
    // Cut where the line would grow past max_line.
    size_t room = max_line_ - partial_.size();
    if (take > room) {
      partial_.append(data.data(), room);
      on_line(absl::string_view(partial_));
      partial_.clear();
      data.remove_prefix(room);
      continue;
    }
    if (newline == absl::string_view::npos) {
      partial_.append(data.data(), data.size());
      return;
    }
    absl::string_view line;
    if (partial_.empty()) {
      line = data.substr(0, newline);
    } else {
      partial_.append(data.data(), newline);
      line = partial_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    on_line(line);
    partial_.clear();
    data.remove_prefix(newline + 1);
  }
}

template <typename OnLine>
void LineSplitter::Flush(OnLine on_line) {
  if (partial_.empty()) return;
  absl::string_view line = partial_;
  if (line.back() == '\r') line.remove_suffix(1);
  on_line(line);
  partial_.clear();
}

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_JOURNAL_LOG_H_
