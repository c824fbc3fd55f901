#include "runtime/cgroup/process_info.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace corral::runtime {

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return absl::InvalidArgumentError("/proc/PID/stat: no (comm)");
  }
  ProcStat stat;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  // After ") ": field 3 (state) is rest[0], so field N is rest[N - 3].
  std::vector<absl::string_view> rest = absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  if (rest.size() < 22) return absl::InvalidArgumentError("/proc/PID/stat: too few fields");
  stat.state = rest[0].empty() ? '?' : rest[0][0];
  bool ok = absl::SimpleAtoi(rest[4 - 3], &stat.ppid) && absl::SimpleAtoi(rest[14 - 3], &stat.utime_ticks) &&
            absl::SimpleAtoi(rest[15 - 3], &stat.stime_ticks) && absl::SimpleAtoi(rest[24 - 3], &stat.rss_pages);
  if (!ok) return absl::InvalidArgumentError("/proc/PID/stat: a field is not a number");
  return stat;
}

absl::StatusOr<ProcStatus> ParseProcStatus(absl::string_view text) {
  ProcStatus status;
  bool have_pid = false, have_uid = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "NSpid:")) {
      std::vector<absl::string_view> pids = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      have_pid = !pids.empty() && absl::SimpleAtoi(pids.back(), &status.innermost_pid);
    } else if (absl::ConsumePrefix(&line, "Uid:")) {
      std::vector<absl::string_view> uids = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      have_uid = !uids.empty() && absl::SimpleAtoi(uids[0], &status.uid);
    }
  }
  if (!have_pid || !have_uid) return absl::InvalidArgumentError("/proc/PID/status: no NSpid or Uid line");
  return status;
}

uid_t UidInside(absl::string_view uid_map, uid_t uid) {
  for (absl::string_view line : absl::StrSplit(uid_map, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t inside = 0, outside = 0, count = 0;
    if (f.size() != 3 || !absl::SimpleAtoi(f[0], &inside) || !absl::SimpleAtoi(f[1], &outside) ||
        !absl::SimpleAtoi(f[2], &count)) {
      continue;
    }
    if (uid >= outside && uid - outside < count) return static_cast<uid_t>(inside + (uid - outside));
  }
  return 65534;
}

std::string CommandLine(absl::string_view cmdline) {
  while (absl::ConsumeSuffix(&cmdline, absl::string_view("\0", 1))) {
  }
  return absl::StrJoin(absl::StrSplit(cmdline, '\0'), " ");
}

absl::StatusOr<ProcessInfo> ReadProcessInfo(pid_t pid) {
  const std::string dir = absl::StrCat("/proc/", pid);
  ASSIGN_OR_RETURN(std::string stat_text, ReadFile(dir + "/stat"));
  ASSIGN_OR_RETURN(std::string status_text, ReadFile(dir + "/status"));
  ASSIGN_OR_RETURN(ProcStat stat, ParseProcStat(stat_text));
  ASSIGN_OR_RETURN(ProcStatus status, ParseProcStatus(status_text));
  ProcessInfo info;
  info.host_pid = pid;
  info.comm = stat.comm;
  info.container_pid = status.innermost_pid;
  absl::StatusOr<std::string> uid_map = ReadFile(dir + "/uid_map");
  info.uid = uid_map.ok() ? UidInside(*uid_map, status.uid) : status.uid;
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  static const long page = ::sysconf(_SC_PAGESIZE);
  info.cpu_usec = (stat.utime_ticks + stat.stime_ticks) * 1000000 / static_cast<uint64_t>(ticks > 0 ? ticks : 100);
  info.rss_bytes = stat.rss_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
  absl::StatusOr<std::string> cmdline = ReadFile(dir + "/cmdline");
  info.command = cmdline.ok() ? CommandLine(*cmdline) : "";
  if (info.command.empty()) info.command = absl::StrCat("[", stat.comm, "]");
  return info;
}

}  // namespace corral::runtime
