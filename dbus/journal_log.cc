#include "dbus/journal_log.h"

#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace corral::dbus {

int TakePriorityPrefix(absl::string_view* line, int fallback) {
  absl::string_view text = *line;
  if (text.size() < 3 || text[0] != '<') return fallback;
  size_t close = text.find('>');
  if (close == absl::string_view::npos || close < 2 || close > 4) return fallback;
  int value = 0;
  for (size_t i = 1; i < close; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) return fallback;
    value = value * 10 + (text[i] - '0');
  }
  if (value > 191) return fallback;  // LOG_LOCAL7 | LOG_DEBUG is the largest
  line->remove_prefix(close + 1);
  return value & 7;
}

// ---- rate limit ----

void LineRateLimiter::Roll(uint64_t now_usec) {
  if (window_start_ == 0 || now_usec >= window_start_ + interval_) {
    window_start_ = now_usec;
    used_ = 0;
  }
}

bool LineRateLimiter::Allow(uint64_t now_usec) {
  // A window with suppressed lines stays until its notice is taken (TakeSuppressed), so the
  // notice comes before the lines of the next window.
  if (suppressed_ == 0) Roll(now_usec);
  if (suppressed_ == 0 && used_ < burst_) {
    ++used_;
    return true;
  }
  ++suppressed_;
  return false;
}

uint64_t LineRateLimiter::TakeSuppressed(uint64_t now_usec) {
  if (suppressed_ == 0 || now_usec < window_start_ + interval_) return 0;
  uint64_t n = suppressed_;
  suppressed_ = 0;
  Roll(now_usec);
  return n;
}

// ---- the native protocol ----

std::string FormatJournalEntry(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (value.find('\n') == std::string::npos) {
      absl::StrAppend(&out, key, "=", value, "\n");
      continue;
    }
    out.append(key);
    out.push_back('\n');
    uint64_t size = value.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
    out.append(value);
    out.push_back('\n');
  }
  return out;
}

JournalSender::JournalSender(std::string socket_path) : path_(std::move(socket_path)) {
  socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (socket_.valid()) {
    // Room for a burst of entries while journald catches up (as sd-journal asks for 8 MiB).
    int size = 8 << 20;
    ::setsockopt(socket_.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }
}

bool JournalSender::Send(const std::vector<std::pair<std::string, std::string>>& fields) {
  if (!socket_.valid()) return false;
  std::string entry = FormatJournalEntry(fields);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(address.sun_path)) return false;
  std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
  ssize_t n;
  do {
    n = ::sendto(socket_.get(), entry.data(), entry.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                 reinterpret_cast<sockaddr*>(&address), sizeof(address));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(entry.size());
}

// ---- a container's console ----

ConsoleJournal::ConsoleJournal(std::string name, std::string unit, std::string socket_path, uint64_t interval_usec,
                               uint32_t burst)
    : name_(std::move(name)), unit_(std::move(unit)), sender_(std::move(socket_path)),
      interval_usec_(interval_usec),
      burst_(burst),
      limiter_(interval_usec, burst) {}

void ConsoleJournal::SendLine(absl::string_view message, int priority) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"MESSAGE", std::string(message)},
      {"PRIORITY", absl::StrCat(priority)},
      {"SYSLOG_IDENTIFIER", name_},
      {"CONTAINER_NAME", name_},
      {"CORRAL_UNIT", unit_},
      {"CORRAL_STREAM", "console"},
  };
  if (sender_.Send(fields)) {
    ++sent_;
  } else {
    ++dropped_;
    ++unreported_drops_;
  }
}

void ConsoleJournal::Line(absl::string_view line, uint64_t now_usec) {
  Notice(now_usec, /*force=*/false);
  if (!limiter_.Allow(now_usec)) return;
  int priority = TakePriorityPrefix(&line, kPriorityInfo);
  SendLine(line, priority);
}

void ConsoleJournal::Feed(absl::string_view data, uint64_t now_usec) {
  splitter_.Feed(data, [&](absl::string_view line) { Line(line, now_usec); });
}

void ConsoleJournal::Notice(uint64_t now_usec, bool force) {
  uint64_t suppressed = limiter_.TakeSuppressed(force ? UINT64_MAX : now_usec);
  if (suppressed > 0) {
    SendLine(absl::StrCat("corral: ", suppressed, " lines of ", name_, "'s output suppressed (more than ",
                          burst_, " lines in ", interval_usec_ / 1000000.0, " s)"),
             kPriorityWarning);
  }
  // Entries journald could not take: said once it takes entries again, tried at most once a
  // second (without a journald at all, a flood must not cost a failed send per line).
  if (unreported_drops_ > 0 && (force || now_usec >= last_drop_notice_usec_ + 1000000)) {
    last_drop_notice_usec_ = now_usec;
    uint64_t drops = unreported_drops_;
    unreported_drops_ = 0;
    SendLine(absl::StrCat("corral: ", drops, " lines of ", name_, "'s output dropped (the journal was busy)"),
             kPriorityWarning);
    if (unreported_drops_ > 0) unreported_drops_ = drops;  // still busy: try again later
  }
}

void ConsoleJournal::Tick(uint64_t now_usec) { Notice(now_usec, /*force=*/false); }

int ConsoleJournal::PollTimeoutMs(uint64_t now_usec) const {
  uint64_t due = limiter_.NoticeDueUsec();
  if (due == 0) return unreported_drops_ > 0 ? 1000 : -1;
  if (due <= now_usec) return 0;
  return static_cast<int>((due - now_usec + 999) / 1000);
}

void ConsoleJournal::Flush(uint64_t now_usec) {
  splitter_.Flush([&](absl::string_view line) { Line(line, now_usec); });
  Notice(now_usec, /*force=*/true);
}

// ---- corrald's own messages ----

void LogMessage(int priority, absl::string_view message, const std::vector<std::pair<std::string, std::string>>& fields) {
  static JournalSender* sender = new JournalSender;
  std::vector<std::pair<std::string, std::string>> entry = {
      {"MESSAGE", std::string(message)},
      {"PRIORITY", absl::StrCat(priority)},
      {"SYSLOG_IDENTIFIER", "corrald"},
  };
  entry.insert(entry.end(), fields.begin(), fields.end());
  if (!sender->Send(entry)) ::fprintf(stderr, "corrald: %s\n", std::string(message).c_str());
}


}  // namespace corral::dbus
