// What `corralctl top` shows of one process of a container, read from /proc by a process that
// may read it (corrald, as root): its pid on the host and inside (NSpid), its uid as the
// container sees it (through its uid_map), CPU time, resident memory and command line.
#ifndef CORRAL_RUNTIME_CGROUP_PROCESS_INFO_H_
#define CORRAL_RUNTIME_CGROUP_PROCESS_INFO_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::runtime {

// ---- parsers (pure, exposed for tests) ----

// From /proc/PID/stat: "PID (COMM) STATE PPID ... UTIME STIME ... RSS ...". COMM may hold
// spaces and parentheses: it runs to the last ')'.
struct ProcStat {
  std::string comm;
  char state = '?';
  pid_t ppid = 0;
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t rss_pages = 0;
};
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text);

// From /proc/PID/status: the last NSpid field (the pid in the innermost namespace, the
// container's) and the real uid of the Uid line (as the reader's user namespace sees it).
struct ProcStatus {
  pid_t innermost_pid = 0;
  uid_t uid = 0;
};
absl::StatusOr<ProcStatus> ParseProcStatus(absl::string_view text);

// Maps `uid` (as the reader sees it) through a /proc/PID/uid_map text ("INSIDE OUTSIDE COUNT"
// lines, OUTSIDE in the reader's namespace) to the uid inside; the overflow uid 65534 when
// unmapped.
uid_t UidInside(absl::string_view uid_map, uid_t uid);

// /proc/PID/cmdline (NUL-separated arguments) as one line, arguments joined by spaces; empty
// for a zombie or a kernel thread.
std::string CommandLine(absl::string_view cmdline);

// ---- reading ----

struct ProcessInfo {
  pid_t host_pid = 0;
  pid_t container_pid = 0;  // the innermost NSpid
  uid_t uid = 0;            // inside the container
  uint64_t cpu_usec = 0;    // user + system
  uint64_t rss_bytes = 0;
  std::string command;      // the command line, or "[COMM]" when it has none
  std::string comm;         // the kernel's short name (/proc/PID/comm)
};
// NotFound when the process is gone.
absl::StatusOr<ProcessInfo> ReadProcessInfo(pid_t pid);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CGROUP_PROCESS_INFO_H_
