// The cgroups of one process, as one object: its cgroup2 directory and, on a hybrid host, its
// directories in the v1 hierarchies, found from /proc/PID/cgroup and this process's mountinfo;
// what they account (memory, CPU, pids, block I/O) and which processes they hold.
//
// Reads prefer cgroup2 and fall back, per figure, to the v1 controller that holds it on a
// hybrid host (systemd's "hybrid" layout puts every controller on v1 and leaves cgroup2 with
// only the core files, such as cpu.stat):
//
//   figure          cgroup2                       v1
//   memory current  memory.current                memory.usage_in_bytes
//   memory peak     memory.peak                   memory.max_usage_in_bytes
//   memory limit    memory.max (min up the tree)  memory.limit_in_bytes (min up the tree)
//   pids            pids.current, pids.max        pids.current, pids.max
//   CPU             cpu.stat usage_usec           cpuacct.usage (ns)
//   block I/O       io.stat rbytes/wbytes         blkio.throttle.io_service_bytes_recursive
//
// A v1 hierarchy in which the process sits at the root ("/": systemd enabled no accounting of
// that controller for its unit) is left out: the root's figures are the whole host's.
#ifndef CORRAL_RUNTIME_CGROUP_CGROUP_H_
#define CORRAL_RUNTIME_CGROUP_CGROUP_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace corral::runtime {

// ---- parsers of the kernel's formats (pure, exposed for tests) ----

// One mounted cgroup hierarchy: where it is mounted and which cgroup is the mount's root
// (mountinfo's fourth field: "/" unless a subtree was bind-mounted or a cgroup namespace mounted it).
struct CgroupMount {
  std::string mount_point;
  std::string root = "/";
};
struct CgroupMounts {
  std::optional<CgroupMount> unified;     // cgroup2
  std::map<std::string, CgroupMount> v1;  // by controller ("memory", "cpuacct", "name=systemd")
};
// From /proc/self/mountinfo. A mount covered by a later one (on its mount point or above it) is
// not reachable and is left out; of the others, the first mount of each hierarchy wins.
CgroupMounts ParseCgroupMounts(absl::string_view mountinfo);

// From /proc/PID/cgroup ("0::/a/b" and "4:memory:/a/b" or "2:cpu,cpuacct:/a" lines).
struct ProcCgroups {
  std::optional<std::string> unified;      // the "0::" line's path
  std::map<std::string, std::string> v1;   // by controller, each controller of a line
};
ProcCgroups ParseProcCgroup(absl::string_view text);

// The value of `key` in a flat-keyed file ("usage_usec 123\nuser_usec 100\n": cpu.stat,
// memory.stat, cpuacct.stat).
std::optional<uint64_t> FindKeyedValue(absl::string_view text, absl::string_view key);

struct IoBytes {
  uint64_t read = 0;
  uint64_t write = 0;
};
// cgroup2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device, summed.
IoBytes ParseIoStat(absl::string_view text);
// v1 blkio.*io_service_bytes*: "8:0 Read 1\n8:0 Write 2\n...\nTotal 3", summed over devices.
IoBytes ParseBlkioServiceBytes(absl::string_view text);

// A single number ("123\n"); nullopt when it is not one.
std::optional<uint64_t> ParseCounter(absl::string_view text);
// A limit file: nullopt for none ("max"; on v1 a value from 2^62 up, the kernel's "unlimited"
// being PAGE_COUNTER_MAX pages, 9223372036854771712 with 4 KiB pages).
std::optional<uint64_t> ParseLimit(absl::string_view text);

// What a cgroup uses. Zero for a figure no hierarchy accounts (memory_limit, pids_limit: no
// limit anywhere above).
struct CgroupStats {
  uint64_t memory_current = 0;  // bytes
  uint64_t memory_peak = 0;     // bytes, since the cgroup was made
  uint64_t memory_limit = 0;    // bytes in force: the least of its own and its ancestors'
  uint64_t cpu_usage_usec = 0;  // user + system time of all its processes, ever
  uint64_t pids_current = 0;    // tasks (threads count)
  uint64_t pids_limit = 0;
  uint64_t io_read_bytes = 0;
  uint64_t io_write_bytes = 0;
};

class Cgroup {
 public:
  // The cgroups of process `pid` (0: this one), as this process sees them (paths relative to
  // its cgroup namespace, hierarchies where its mount namespace has them).
  static absl::StatusOr<Cgroup> Of(pid_t pid);
  // The same from the texts of /proc/self/mountinfo and /proc/PID/cgroup (tests; the mount
  // points may be a fake tree).
  static absl::StatusOr<Cgroup> FromTexts(absl::string_view mountinfo, absl::string_view proc_cgroup);

  // Narrows every hierarchy to the subtree of systemd unit `unit` (a path component): the
  // component `leaf` below it when the process is in or under it (corral's payload leaf), the
  // unit's directory otherwise. A hierarchy where the process is not under `unit` at all is
  // dropped (systemd accounts nothing of that controller for the unit). Reads of a file the
  // directory lacks then fall back to its parents up to the unit's directory (a payload leaf
  // without the memory controller enabled: the whole scope's figure).
  absl::Status ScopeTo(absl::string_view unit, absl::string_view leaf);

  // Where cgroup2 is mounted ("" when it is not: a pure v1 host).
  const std::string& MountPoint() const { return unified_.mount_point; }
  // The cgroup2 directory ("" when there is no cgroup2).
  const std::string& Directory() const { return unified_.dir; }
  // The v1 directory of `controller` ("" when none, or left out).
  std::string V1Directory(const std::string& controller) const;
  // "unified" (cgroup2 only), "hybrid" (cgroup2 and v1 controllers) or "legacy".
  std::string Layout() const;

  // The cgroup2 directory `name` below this one, made when missing: a leaf for processes (the
  // delegated scope itself holds none, cgroup2's rule once controllers are enabled below it).
  // Its v1 places stay this cgroup's: corral makes no leaves in a hybrid host's v1 hierarchies.
  absl::StatusOr<Cgroup> MakeLeaf(absl::string_view name) const;
  // Delegates the cgroup2 directory to `uid`/`gid`, as systemd delegates a Delegate=yes
  // unit's cgroup to its User=: the directory and the files that move processes and enable
  // controllers below it. Its own limits stay root's.
  absl::Status Delegate(uid_t uid, gid_t gid) const;
  // Moves process `pid` (0: this one) into the cgroup2 directory (a cgroup.procs write).
  absl::Status Enter(pid_t pid) const;

  // The cgroup2 directory, opened for CLONE_INTO_CGROUP (clone3's cgroup fd).
  absl::StatusOr<UniqueFd> OpenDirectory() const;
  // Whether a process is in the cgroup2 directory or below (cgroup.events "populated 1").
  absl::StatusOr<bool> Populated() const;

  // Reads every figure; those no hierarchy has are zero.
  CgroupStats Stats() const;
  // The processes of the cgroup2 directory and every directory below it (cgroup.procs), or of
  // the v1 "name=systemd" or pids hierarchy without cgroup2. Sorted, without duplicates.
  absl::StatusOr<std::vector<pid_t>> Processes() const;

 private:
  struct Place {
    std::string mount_point;  // "" when absent
    std::string dir;          // the cgroup's directory
    std::string floor;        // reads fall back from dir up to here (dir itself by default)
  };
  static bool Narrow(Place* place, absl::string_view unit, absl::string_view leaf);
  // The contents of `file` in place's dir, or in the nearest parent up to its floor that has it.
  static std::optional<std::string> ReadUp(const Place& place, absl::string_view file);
  // The least limit in `file` from the dir up to the mount point (nullopt: none).
  static std::optional<uint64_t> LeastLimit(const Place& place, absl::string_view file);
  const Place* V1(const std::string& controller) const;

  Place unified_;
  std::map<std::string, Place> v1_;
};

// Where cgroup2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host.
absl::StatusOr<std::string> Cgroup2MountPoint();
// The cgroup2 directory of process `pid` (0: this one), under Cgroup2MountPoint().
absl::StatusOr<std::string> Cgroup2DirectoryOf(pid_t pid);

// The slice systemd keeps containers' scopes in (corrald's, corral-run's, corral-oci's).
inline constexpr char kMachineSlice[] = "machine.slice";
// The cgroup directory of scope `unit` of kMachineSlice below the hierarchy mounted at `root`.
std::string MachineScopeDirectory(absl::string_view root, absl::string_view unit);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CGROUP_CGROUP_H_
