// `corralctl stats` and `corralctl top`: corrald's GetStats and Top (dbus/interface.h) as a
// table like `docker stats` / `docker top`, or JSON; the formatting is pure and tested apart.
#ifndef CORRAL_TOOLS_CTL_STATS_H_
#define CORRAL_TOOLS_CTL_STATS_H_

#include <systemd/sd-bus.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corral::tools {

// One GetStats answer of one container.
struct StatsSample {
  std::string name;
  std::map<std::string, uint64_t> numbers;  // every `t` key
  std::string layout;                       // cgroup_layout
  uint64_t Get(const std::string& key) const {
    auto i = numbers.find(key);
    return i == numbers.end() ? 0 : i->second;
  }
};

// ---- formatting (pure) ----

// CPU use between two samples of one container, in percent of one CPU (200 = two CPUs busy,
// as docker and top count); nullopt without a usable earlier sample.
std::optional<double> CpuPercent(const StatsSample* before, const StatsSample& now);
// 1536 -> "1.5KiB", binary units (memory, as docker shows it).
std::string FormatBinary(uint64_t bytes);
// 1500 -> "1.5kB", decimal units (network and block I/O, as docker shows them).
std::string FormatDecimal(uint64_t bytes);
// CPU time as ps shows it: "0:05", "1:02:03" for an hour or more.
std::string FormatCpuTime(uint64_t usec);

// The table: NAME, CPU %, MEM USAGE / LIMIT, MEM %, PIDS, NET I/O, BLOCK I/O. `cpu[i]` is
// samples[i]'s CPU % ("--" when unknown); `host_memory` stands in for "no limit".
std::string FormatStatsTable(const std::vector<StatsSample>& samples, const std::vector<std::optional<double>>& cpu,
                             uint64_t host_memory);
// A JSON array of objects: "name", every GetStats key, and "cpu_percent" when known (null
// otherwise).
std::string FormatStatsJson(const std::vector<StatsSample>& samples, const std::vector<std::optional<double>>& cpu);

struct TopRow {
  uint32_t host_pid = 0;
  uint32_t container_pid = 0;
  uint32_t uid = 0;
  uint64_t cpu_usec = 0;
  uint64_t rss_bytes = 0;
  std::string command;
};
// PID (inside), HOST PID, UID, TIME, RSS, COMMAND; sorted by the pid inside.
std::string FormatTopTable(std::vector<TopRow> rows);

// ---- verbs ----

// corralctl stats [NAME...] [--json] [--watch]. Returns the exit status.
int StatsCommand(sd_bus* bus, const std::vector<std::string>& args);
// corralctl top NAME [--json].
int TopCommand(sd_bus* bus, const std::vector<std::string>& args);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_STATS_H_
