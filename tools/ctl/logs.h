// `corralctl logs NAME [-f] [-n N] [--since T] [--timestamps] [--json]`: what a container wrote
// to its console, read back from the journal through sd-journal (the entries its supervisor
// sent with CONTAINER_NAME=NAME, dbus/journal_log.h), across restarts of the container and of
// corrald; `journalctl CONTAINER_NAME=NAME` shows the same entries. The parsing and formatting
// are pure and tested apart.
#ifndef CORRAL_TOOLS_CTL_LOGS_H_
#define CORRAL_TOOLS_CTL_LOGS_H_

#include <systemd/sd-bus.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::tools {

// --since as journalctl and docker take it, into CLOCK_REALTIME microseconds: "@UNIXSECONDS",
// "now", "today", "yesterday", a relative time back from now ("10m", "-10m", "10m ago", "1h30m
// ago"; units s, m/min, h, d, w), a local date and time ("2024-05-01", "2024-05-01 12:00",
// "2024-05-01T12:00:05", "12:00[:05]" today). Anything else: InvalidArgument, saying what was
// expected.
absl::StatusOr<uint64_t> ParseSince(absl::string_view text, uint64_t now_usec);

struct LogEntry {
  uint64_t realtime_usec = 0;
  int priority = 6;
  std::string message;
  std::string unit;  // CORRAL_UNIT
};

struct LogsOptions {
  std::string name;
  bool follow = false;
  std::optional<uint64_t> lines;   // -n: only the last N
  std::optional<uint64_t> since_usec;
  bool timestamps = false;
  bool json = false;
};
absl::StatusOr<LogsOptions> ParseLogsArgs(const std::vector<std::string>& args, uint64_t now_usec);

// One entry as corralctl prints it: the message (after "2024-05-01T12:00:05.123456+00:00 " with
// timestamps, in local time), or a JSON object with time_usec, time, priority, message, unit.
std::string FormatLogEntry(const LogEntry& entry, const LogsOptions& options);

// The verb; returns the exit status.
int LogsCommand(sd_bus* bus, const std::vector<std::string>& args);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_LOGS_H_
