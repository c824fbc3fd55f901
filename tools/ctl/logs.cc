#include "tools/ctl/logs.h"

#include <signal.h>
#include <stdio.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "tools/ctl/bus.h"

namespace corral::tools {
namespace {

constexpr uint64_t kSecond = 1000000;

// "1h30m", "10m", "90s", "2d": a sum of number-unit pairs; nullopt when not that.
std::optional<uint64_t> ParseSpan(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t total = 0;
  while (!text.empty()) {
    size_t digits = 0;
    while (digits < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == 0 || digits > 9) return std::nullopt;
    uint64_t n = 0;
    if (!absl::SimpleAtoi(text.substr(0, digits), &n)) return std::nullopt;
    text.remove_prefix(digits);
    size_t letters = 0;
    while (letters < text.size() && absl::ascii_isalpha(static_cast<unsigned char>(text[letters]))) ++letters;
    absl::string_view unit = text.substr(0, letters);
    text.remove_prefix(letters);
    uint64_t scale;
    if (unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") {
      scale = kSecond;
    } else if (unit == "m" || unit == "min" || unit == "minute" || unit == "minutes") {
      scale = 60 * kSecond;
    } else if (unit == "h" || unit == "hour" || unit == "hours") {
      scale = 3600 * kSecond;
    } else if (unit == "d" || unit == "day" || unit == "days") {
      scale = 86400 * kSecond;
    } else if (unit == "w" || unit == "week" || unit == "weeks") {
      scale = 7 * 86400 * kSecond;
    } else {
      return std::nullopt;
    }
    total += n * scale;
  }
  return total;
}

// Local midnight of the day `usec` falls in, minus `days_back` days.
uint64_t LocalMidnight(uint64_t now_usec, int days_back) {
  time_t t = static_cast<time_t>(now_usec / kSecond);
  struct tm local;
  ::localtime_r(&t, &local);
  local.tm_hour = local.tm_min = local.tm_sec = 0;
  local.tm_mday -= days_back;
  local.tm_isdst = -1;
  return static_cast<uint64_t>(::mktime(&local)) * kSecond;
}

// "YYYY-MM-DD", with " HH:MM[:SS]" or "THH:MM[:SS]"; "HH:MM[:SS]" alone is today.
std::optional<uint64_t> ParseLocalTime(absl::string_view text, uint64_t now_usec) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::string s(text);
  int date_fields = 0;
  struct tm local {};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &date_fields) == 3 && date_fields == 10) {
    absl::string_view time = absl::string_view(s).substr(10);
    if (!time.empty()) {
      if (time[0] != ' ' && time[0] != 'T') return std::nullopt;
      time.remove_prefix(1);
      std::string t(time);
      int used = 0;
      if (std::sscanf(t.c_str(), "%2d:%2d:%2d%n", &hour, &minute, &second, &used) == 3 && used == static_cast<int>(t.size())) {
      } else if (second = 0, std::sscanf(t.c_str(), "%2d:%2d%n", &hour, &minute, &used) == 2 &&
                             used == static_cast<int>(t.size())) {
      } else {
        return std::nullopt;
      }
    }
    local.tm_year = year - 1900;
    local.tm_mon = month - 1;
    local.tm_mday = day;
  } else {
    int used = 0;
    if (std::sscanf(s.c_str(), "%2d:%2d:%2d%n", &hour, &minute, &second, &used) == 3 && used == static_cast<int>(s.size())) {
    } else if (second = 0, std::sscanf(s.c_str(), "%2d:%2d%n", &hour, &minute, &used) == 2 &&
                           used == static_cast<int>(s.size())) {
    } else {
      return std::nullopt;
    }
    time_t t = static_cast<time_t>(now_usec / kSecond);
    ::localtime_r(&t, &local);
  }
  if (month < 0 || month > 12 || day < 0 || day > 31 || hour > 23 || minute > 59 || second > 60 ||
      (date_fields == 10 && (month < 1 || day < 1))) {
    return std::nullopt;
  }
  local.tm_hour = hour;
  local.tm_min = minute;
  local.tm_sec = second;
  local.tm_isdst = -1;
  time_t t = ::mktime(&local);
  if (t < 0) return std::nullopt;
  return static_cast<uint64_t>(t) * kSecond;
}

}  // namespace

absl::StatusOr<uint64_t> ParseSince(absl::string_view text, uint64_t now_usec) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  auto bad = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(
        "--since \"", text,
        "\" is not a time (give \"2024-05-01 12:00[:00]\", \"12:00\", \"10m ago\", \"-1h\", \"@UNIXSECONDS\", "
        "\"today\", \"yesterday\" or \"now\")"));
  };
  if (t.empty()) return bad();
  if (t == "now") return now_usec;
  if (t == "today") return LocalMidnight(now_usec, 0);
  if (t == "yesterday") return LocalMidnight(now_usec, 1);
  if (absl::ConsumePrefix(&t, "@")) {
    uint64_t seconds = 0;
    if (!absl::SimpleAtoi(t, &seconds) || t.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(t[0]))) {
      return bad();
    }
    return seconds * kSecond;
  }
  absl::string_view span = t;
  bool relative = absl::ConsumePrefix(&span, "-");
  if (absl::ConsumeSuffix(&span, " ago") || absl::ConsumeSuffix(&span, "ago")) relative = true;
  span = absl::StripAsciiWhitespace(span);
  std::string compact;
  for (char c : span) {
    if (c != ' ') compact.push_back(c);
  }
  if (std::optional<uint64_t> back = ParseSpan(compact); back.has_value() && (relative || !absl::StrContains(t, ':'))) {
    return *back > now_usec ? 0 : now_usec - *back;
  }
  if (relative) return bad();
  if (std::optional<uint64_t> local = ParseLocalTime(t, now_usec)) return *local;
  return bad();
}

absl::StatusOr<LogsOptions> ParseLogsArgs(const std::vector<std::string>& args, uint64_t now_usec) {
  LogsOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> absl::StatusOr<std::string> {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(a, " needs a value"));
      return args[++i];
    };
    if (a == "-f" || a == "--follow") {
      o.follow = true;
    } else if (a == "-t" || a == "--timestamps") {
      o.timestamps = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "-n" || a == "--tail" || a == "--lines") {
      absl::StatusOr<std::string> v = value();
      if (!v.ok()) return v.status();
      uint64_t n = 0;
      if (v->empty() || !absl::ascii_isdigit(static_cast<unsigned char>((*v)[0])) || !absl::SimpleAtoi(*v, &n)) {
        return absl::InvalidArgumentError(absl::StrCat(a, " \"", *v, "\" is not a number of lines"));
      }
      o.lines = n;
    } else if (a == "--since") {
      absl::StatusOr<std::string> v = value();
      if (!v.ok()) return v.status();
      absl::StatusOr<uint64_t> since = ParseSince(*v, now_usec);
      if (!since.ok()) return since.status();
      o.since_usec = *since;
    } else if (o.name.empty() && !a.empty() && a[0] != '-') {
      o.name = a;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option \"", a, "\""));
    }
  }
  if (o.name.empty()) return absl::InvalidArgumentError("which container? corralctl logs NAME");
  return o;
}

std::string FormatLogEntry(const LogEntry& entry, const LogsOptions& options) {
  time_t seconds = static_cast<time_t>(entry.realtime_usec / kSecond);
  struct tm local;
  ::localtime_r(&seconds, &local);
  char when[64], zone[8];
  ::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &local);
  ::strftime(zone, sizeof(zone), "%z", &local);  // +0100
  std::string z(zone);
  if (z.size() == 5) z.insert(3, ":");
  std::string time = absl::StrFormat("%s.%06u%s", when, static_cast<unsigned>(entry.realtime_usec % kSecond), z);
  if (options.json) {
    return absl::StrCat("{\"time_usec\": ", entry.realtime_usec, ", \"time\": ", JsonString(time),
                        ", \"priority\": ", entry.priority, ", \"container\": ", JsonString(options.name),
                        ", \"unit\": ", JsonString(entry.unit), ", \"message\": ", JsonString(entry.message), "}");
  }
  return options.timestamps ? absl::StrCat(time, " ", entry.message) : entry.message;
}

namespace {

// The value of `field` in the journal's current entry ("" when absent).
std::string Field(sd_journal* j, const char* field) {
  const void* data = nullptr;
  size_t length = 0;
  if (sd_journal_get_data(j, field, &data, &length) < 0) return "";
  absl::string_view text(static_cast<const char*>(data), length);
  size_t eq = text.find('=');
  return eq == absl::string_view::npos ? "" : std::string(text.substr(eq + 1));
}

LogEntry Current(sd_journal* j) {
  LogEntry e;
  sd_journal_get_realtime_usec(j, &e.realtime_usec);
  e.message = Field(j, "MESSAGE");
  e.unit = Field(j, "CORRAL_UNIT");
  std::string p = Field(j, "PRIORITY");
  if (p.size() == 1 && p[0] >= '0' && p[0] <= '7') e.priority = p[0] - '0';
  return e;
}

void Print(const LogEntry& entry, const LogsOptions& options) {
  std::string line = FormatLogEntry(entry, options);
  line.push_back('\n');
  ::fwrite(line.data(), 1, line.size(), stdout);
}

uint64_t RealtimeNow() {
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  return uint64_t(now.tv_sec) * kSecond + uint64_t(now.tv_nsec) / 1000;
}

int Fail(absl::string_view message, int code = 1) {
  ::fprintf(stderr, "corralctl: %s\n", std::string(message).c_str());
  return code;
}

}  // namespace

int LogsCommand(sd_bus* bus, const std::vector<std::string>& args) {
  absl::StatusOr<LogsOptions> parsed = ParseLogsArgs(args, RealtimeNow());
  if (!parsed.ok()) return Fail(absl::StrCat("logs: ", parsed.status().message(), " (see corralctl --help)"), 2);
  const LogsOptions& o = *parsed;
  // The container must exist: a typo gets an error, not an empty log.
  absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "GetContainer");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "s", o.name.c_str());
  absl::StatusOr<MessagePtr> reply = CallAndWait(bus, call->get());
  if (!reply.ok()) return Fail(reply.status().message());

  sd_journal* j = nullptr;
  int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
  if (r < 0) return Fail(absl::StrCat("open the journal: ", std::strerror(-r)));
  std::unique_ptr<sd_journal, void (*)(sd_journal*)> journal(j, sd_journal_close);
  std::string match = absl::StrCat("CONTAINER_NAME=", o.name);
  if ((r = sd_journal_add_match(j, match.data(), match.size())) < 0) {
    return Fail(absl::StrCat("journal match: ", std::strerror(-r)));
  }
  r = o.since_usec ? sd_journal_seek_realtime_usec(j, *o.since_usec) : sd_journal_seek_head(j);
  if (r < 0) return Fail(absl::StrCat("seek the journal: ", std::strerror(-r)));
  // -n keeps the last N of what matches (from --since on): one pass, N entries held.
  std::deque<LogEntry> last;
  while ((r = sd_journal_next(j)) > 0) {
    LogEntry entry = Current(j);
    if (o.since_usec && entry.realtime_usec < *o.since_usec) continue;
    if (!o.lines) {
      Print(entry, o);
      continue;
    }
    if (*o.lines == 0) continue;
    last.push_back(std::move(entry));
    if (last.size() > *o.lines) last.pop_front();
  }
  for (const LogEntry& entry : last) Print(entry, o);
  ::fflush(stdout);
  if (r < 0) return Fail(absl::StrCat("read the journal: ", std::strerror(-r)));
  if (!o.follow) return 0;
  // Until interrupted: Ctrl-C (or a closed pipe) ends it as the normal way out.
  ::signal(SIGPIPE, SIG_DFL);
  for (;;) {
    r = sd_journal_wait(j, UINT64_MAX);
    if (r < 0) return Fail(absl::StrCat("wait for the journal: ", std::strerror(-r)));
    while ((r = sd_journal_next(j)) > 0) Print(Current(j), o);
    if (r < 0) return Fail(absl::StrCat("read the journal: ", std::strerror(-r)));
    if (::fflush(stdout) != 0) return 0;  // the reader went away
  }
}

}  // namespace corral::tools
