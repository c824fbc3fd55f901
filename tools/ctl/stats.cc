#include "tools/ctl/stats.h"

#include <signal.h>
#include <stdio.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dbus/interface.h"
#include "tools/ctl/bus.h"

namespace corral::tools {
namespace {

std::string FormatUnits(uint64_t bytes, double base, const char* const* units) {
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= base && units[unit + 1] != nullptr) {
    value /= base;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(bytes, units[0]);
  return absl::StrFormat("%.*f%s", value < 10 ? 2 : value < 100 ? 1 : 0, value, units[unit]);
}

std::string Percent(std::optional<double> value) {
  return value ? absl::StrFormat("%.2f%%", *value) : std::string("--");
}

// GetStats of `name`. *not_running is set, with an error, when corrald says NotRunning.
absl::StatusOr<StatsSample> GetStats(sd_bus* bus, const std::string& name, bool* not_running) {
  *not_running = false;
  absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "GetStats");
  if (!call.ok()) return call.status();
  sd_bus_message_append(call->get(), "s", name.c_str());
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* raw = nullptr;
  int r = sd_bus_call(bus, call->get(), UINT64_MAX, &error, &raw);
  if (r < 0) {
    *not_running = sd_bus_error_has_name(&error, dbus::kErrorNotRunning);
    std::string sentence = ErrorSentence(&error, r);
    sd_bus_error_free(&error);
    return absl::FailedPreconditionError(sentence);
  }
  MessagePtr reply(raw);
  StatsSample sample;
  sample.name = name;
  r = sd_bus_message_enter_container(raw, 'a', "{sv}");
  while (r >= 0 && (r = sd_bus_message_enter_container(raw, 'e', "sv")) > 0) {
    const char* key = nullptr;
    const char* type = nullptr;
    if ((r = sd_bus_message_read(raw, "s", &key)) < 0 || (r = sd_bus_message_peek_type(raw, nullptr, &type)) < 0) break;
    if (std::strcmp(type, "t") == 0) {
      uint64_t value = 0;
      if ((r = sd_bus_message_read(raw, "v", "t", &value)) < 0) break;
      sample.numbers[key] = value;
    } else if (std::strcmp(type, "s") == 0) {
      const char* text = nullptr;
      if ((r = sd_bus_message_read(raw, "v", "s", &text)) < 0) break;
      if (std::strcmp(key, "cgroup_layout") == 0) sample.layout = text;
    } else if ((r = sd_bus_message_skip(raw, "v")) < 0) {
      break;
    }
    r = sd_bus_message_exit_container(raw);
  }
  if (r < 0) return absl::InternalError(absl::StrCat("read the stats of ", name, ": ", std::strerror(-r)));
  return sample;
}

// The running containers, by name, from ListContainers.
absl::StatusOr<std::vector<std::string>> RunningContainers(sd_bus* bus) {
  absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "ListContainers");
  if (!call.ok()) return call.status();
  absl::StatusOr<MessagePtr> reply = CallAndWait(bus, call->get());
  if (!reply.ok()) return reply.status();
  std::vector<std::string> names;
  sd_bus_message* m = reply->get();
  sd_bus_message_enter_container(m, 'a', "(ssuo)");
  const char *name, *state, *path;
  uint32_t pid;
  while (sd_bus_message_read(m, "(ssuo)", &name, &state, &pid, &path) > 0) {
    if (std::strcmp(state, "running") == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// One round: a sample of every container asked for (of every running one with `all`, which
// skips those that stopped since the listing).
absl::StatusOr<std::vector<StatsSample>> SampleAll(sd_bus* bus, const std::vector<std::string>& names, bool all) {
  std::vector<std::string> targets = names;
  if (all) {
    absl::StatusOr<std::vector<std::string>> running = RunningContainers(bus);
    if (!running.ok()) return running.status();
    targets = *running;
  }
  std::vector<StatsSample> samples;
  for (const std::string& name : targets) {
    bool not_running = false;
    absl::StatusOr<StatsSample> sample = GetStats(bus, name, &not_running);
    if (!sample.ok() && all && not_running) continue;
    if (!sample.ok()) return sample.status();
    samples.push_back(*std::move(sample));
  }
  return samples;
}

std::vector<std::optional<double>> CpuOf(const std::vector<StatsSample>& now, const std::vector<StatsSample>& before) {
  std::vector<std::optional<double>> cpu;
  for (const StatsSample& sample : now) {
    const StatsSample* earlier = nullptr;
    for (const StatsSample& b : before) {
      if (b.name == sample.name) earlier = &b;
    }
    cpu.push_back(CpuPercent(earlier, sample));
  }
  return cpu;
}

uint64_t HostMemory() {
  struct sysinfo info {};
  if (::sysinfo(&info) != 0) return 0;
  return static_cast<uint64_t>(info.totalram) * info.mem_unit;
}

// Waits `usec`, or until SIGINT/SIGTERM (blocked by the caller); true when one came.
bool WaitOrSignal(const sigset_t& signals, uint64_t usec) {
  timespec timeout{static_cast<time_t>(usec / 1000000), static_cast<long>(usec % 1000000) * 1000};
  for (;;) {
    int got = ::sigtimedwait(&signals, nullptr, &timeout);
    if (got > 0) return true;
    if (got < 0 && errno == EINTR) continue;
    return false;  // EAGAIN: the time is up
  }
}

constexpr char kStatsUsage[] = "usage: corralctl stats [NAME...] [--json] [--watch]";
// Between the two samples of a one-shot table (CPU % needs two) and between redraws.
constexpr uint64_t kOneShotIntervalUsec = 500000;
constexpr uint64_t kWatchIntervalUsec = 1000000;

}  // namespace

std::optional<double> CpuPercent(const StatsSample* before, const StatsSample& now) {
  if (before == nullptr) return std::nullopt;
  uint64_t t0 = before->Get("timestamp_usec"), t1 = now.Get("timestamp_usec");
  uint64_t c0 = before->Get("cpu_usage_usec"), c1 = now.Get("cpu_usage_usec");
  if (t1 <= t0 || c1 < c0) return std::nullopt;  // same instant, or another run of the name
  return 100.0 * static_cast<double>(c1 - c0) / static_cast<double>(t1 - t0);
}

std::string FormatBinary(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", nullptr};
  return FormatUnits(bytes, 1024, kUnits);
}

std::string FormatDecimal(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", nullptr};
  return FormatUnits(bytes, 1000, kUnits);
}

std::string FormatCpuTime(uint64_t usec) {
  uint64_t seconds = usec / 1000000;
  if (seconds >= 3600) return absl::StrFormat("%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
  return absl::StrFormat("%d:%02d", seconds / 60, seconds % 60);
}

std::string FormatStatsTable(const std::vector<StatsSample>& samples, const std::vector<std::optional<double>>& cpu,
                             uint64_t host_memory) {
  constexpr char kRow[] = "%-20s %-8s %-22s %-7s %-6s %-19s %s\n";
  std::string out = absl::StrFormat(kRow, "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS", "NET I/O", "BLOCK I/O");
  for (size_t i = 0; i < samples.size(); ++i) {
    const StatsSample& s = samples[i];
    uint64_t limit = s.Get("memory_limit") ? s.Get("memory_limit") : host_memory;
    std::optional<double> memory_percent;
    if (limit) memory_percent = 100.0 * static_cast<double>(s.Get("memory_current")) / static_cast<double>(limit);
    absl::StrAppendFormat(
        &out, kRow, s.name, Percent(i < cpu.size() ? cpu[i] : std::nullopt),
        absl::StrCat(FormatBinary(s.Get("memory_current")), " / ", limit ? FormatBinary(limit) : "-"),
        Percent(memory_percent), absl::StrCat(s.Get("pids_current")),
        absl::StrCat(FormatDecimal(s.Get("net_rx_bytes")), " / ", FormatDecimal(s.Get("net_tx_bytes"))),
        absl::StrCat(FormatDecimal(s.Get("io_read_bytes")), " / ", FormatDecimal(s.Get("io_write_bytes"))));
  }
  return out;
}

std::string FormatStatsJson(const std::vector<StatsSample>& samples, const std::vector<std::optional<double>>& cpu) {
  std::vector<std::string> objects;
  for (size_t i = 0; i < samples.size(); ++i) {
    const StatsSample& s = samples[i];
    std::vector<std::string> fields = {absl::StrCat("\"name\": ", JsonString(s.name))};
    for (const auto& [key, value] : s.numbers) fields.push_back(absl::StrCat(JsonString(key), ": ", value));
    if (!s.layout.empty()) fields.push_back(absl::StrCat("\"cgroup_layout\": ", JsonString(s.layout)));
    std::optional<double> percent = i < cpu.size() ? cpu[i] : std::nullopt;
    fields.push_back(absl::StrCat("\"cpu_percent\": ", percent ? absl::StrFormat("%.2f", *percent) : "null"));
    objects.push_back(absl::StrCat("{", absl::StrJoin(fields, ", "), "}"));
  }
  return absl::StrCat("[", absl::StrJoin(objects, ",\n "), "]\n");
}

std::string FormatTopTable(std::vector<TopRow> rows) {
  std::sort(rows.begin(), rows.end(), [](const TopRow& a, const TopRow& b) {
    return a.container_pid != b.container_pid ? a.container_pid < b.container_pid : a.host_pid < b.host_pid;
  });
  constexpr char kRow[] = "%-7s %-9s %-6s %-8s %-9s %s\n";
  std::string out = absl::StrFormat(kRow, "PID", "HOST PID", "UID", "TIME", "RSS", "COMMAND");
  for (const TopRow& r : rows) {
    absl::StrAppendFormat(&out, kRow, absl::StrCat(r.container_pid), absl::StrCat(r.host_pid), absl::StrCat(r.uid),
                          FormatCpuTime(r.cpu_usec), FormatBinary(r.rss_bytes), r.command);
  }
  return out;
}

int StatsCommand(sd_bus* bus, const std::vector<std::string>& args) {
  bool json = false, watch = false;
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const std::string& a : args) {
    if (a == "--json") {
      json = true;
    } else if (a == "--watch") {
      watch = true;
    } else if (!a.empty() && a[0] == '-') {
      ::fprintf(stderr, "corralctl: stats: unknown option \"%s\" (%s)\n", a.c_str(), kStatsUsage);
      return 2;
    } else if (seen.insert(a).second) {
      names.push_back(a);
    }
  }
  const bool all = names.empty();
  const uint64_t host_memory = HostMemory();
  // Ctrl-C (and TERM) end --watch between rounds: blocked here, taken by sigtimedwait, so a
  // signal never lands in the middle of a redraw and the terminal is always put back.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (watch) ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  const bool redraw = watch && !json && ::isatty(STDOUT_FILENO);

  absl::StatusOr<std::vector<StatsSample>> previous = SampleAll(bus, names, all);
  if (!previous.ok()) {
    ::fprintf(stderr, "corralctl: %s\n", std::string(previous.status().message()).c_str());
    return 1;
  }
  if (json && !watch) {  // one sample: the raw counters, at the cost of one call per container
    ::fputs(FormatStatsJson(*previous, {}).c_str(), stdout);
    return 0;
  }
  if (redraw) ::fputs("\033[?25l", stdout);  // hide the cursor while redrawing
  int status = 0;
  for (;;) {
    if (WaitOrSignal(stop_signals, watch ? kWatchIntervalUsec : kOneShotIntervalUsec)) break;
    absl::StatusOr<std::vector<StatsSample>> now = SampleAll(bus, names, all);
    if (!now.ok()) {
      if (redraw) ::fputs("\033[?25h", stdout);
      ::fflush(stdout);
      ::fprintf(stderr, "corralctl: %s\n", std::string(now.status().message()).c_str());
      status = 1;
      break;
    }
    std::vector<std::optional<double>> cpu = CpuOf(*now, *previous);
    std::string text = json ? FormatStatsJson(*now, cpu) : FormatStatsTable(*now, cpu, host_memory);
    if (redraw) {
      // Home, each line cleared to its end, and what is below the table cleared: no flicker.
      std::string frame = "\033[H";
      for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
        absl::StrAppend(&frame, line, "\033[K\n");
      }
      text = absl::StrCat(frame, "\033[J");
    }
    ::fputs(text.c_str(), stdout);
    ::fflush(stdout);
    previous = std::move(now);
    if (!watch) break;
  }
  if (redraw && status == 0) ::fputs("\033[?25h", stdout);
  ::fflush(stdout);
  // The end of --watch is Ctrl-C: that is its normal end, exit status 0.
  return status;
}

int TopCommand(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2 || (args.size() == 2 && args[1] != "--json") || args[0][0] == '-') {
    ::fprintf(stderr, "corralctl: usage: corralctl top NAME [--json]\n");
    return 2;
  }
  absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "Top");
  if (!call.ok()) {
    ::fprintf(stderr, "corralctl: %s\n", std::string(call.status().message()).c_str());
    return 1;
  }
  sd_bus_message_append(call->get(), "s", args[0].c_str());
  absl::StatusOr<MessagePtr> reply = CallAndWait(bus, call->get());
  if (!reply.ok()) {
    ::fprintf(stderr, "corralctl: %s\n", std::string(reply.status().message()).c_str());
    return 1;
  }
  std::vector<TopRow> rows;
  sd_bus_message* m = reply->get();
  sd_bus_message_enter_container(m, 'a', "(uuutts)");
  TopRow row;
  const char* command = nullptr;
  while (sd_bus_message_read(m, "(uuutts)", &row.host_pid, &row.container_pid, &row.uid, &row.cpu_usec,
                             &row.rss_bytes, &command) > 0) {
    row.command = command;
    rows.push_back(row);
  }
  if (args.size() == 2) {
    std::vector<std::string> objects;
    for (const TopRow& r : rows) {
      objects.push_back(absl::StrCat("{\"pid\": ", r.container_pid, ", \"host_pid\": ", r.host_pid, ", \"uid\": ", r.uid,
                                     ", \"cpu_usec\": ", r.cpu_usec, ", \"rss_bytes\": ", r.rss_bytes,
                                     ", \"command\": ", JsonString(r.command), "}"));
    }
    ::printf("[%s]\n", absl::StrJoin(objects, ",\n ").c_str());
    return 0;
  }
  ::fputs(FormatTopTable(std::move(rows)).c_str(), stdout);
  return 0;
}

}  // namespace corral::tools
