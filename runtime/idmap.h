// The pool of host uids/gids that containers' user namespaces map to: 65536 ids per container,
// allocated from configured ranges (/etc/corral/idmap.conf) and recorded in one file under
// the state directory (/var/lib/corral/idmap/allocations), changed only under an flock and by
// atomic rename, so two containers (corrald's, or concurrent corral-runs) never share a block.
#ifndef CORRAL_RUNTIME_IDMAP_H_
#define CORRAL_RUNTIME_IDMAP_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::runtime {

// Ids per container: uid and gid 0..65535 inside.
inline constexpr uint32_t kIdBlockSize = 65536;

// Where the pool configuration is read from unless $CORRAL_IDMAP_CONFIG names another file.
inline constexpr char kDefaultIdPoolConfigPath[] = "/etc/corral/idmap.conf";
inline constexpr char kDefaultIdPoolStateDir[] = "/var/lib/corral/idmap";

struct IdRange {
  uint32_t first = 0;
  uint32_t count = 0;
  uint64_t end() const { return uint64_t{first} + count; }  // one past the last
};

struct IdPoolConfig {
  // Host ids handed out, in blocks of kIdBlockSize from each range's first id. The default is
  // systemd-nspawn's --private-users=pick range: 0x80000 (524288) up to 0x6FFFFFFF.
  std::vector<IdRange> ranges = {{524288, 1879048192u - 524288u}};
  std::string state_dir = kDefaultIdPoolStateDir;
  // Ranges other tools hand out (user@host rootless containers); the pool must not overlap
  // them. Empty: not checked. A missing file is fine.
  std::string subuid = "/etc/subuid";
  std::string subgid = "/etc/subgid";
};

// `key = value` lines, '#' comments:
//   range = FIRST COUNT   (repeatable; replaces the default; COUNT a multiple of 65536)
//   state_dir = DIR
//   subuid = PATH, subgid = PATH  (empty value: do not check)
// Validated: no range below 65536 (host system ids), none overlapping another, none past
// 2^32-2, none overlapping a /etc/subuid or /etc/subgid entry.
absl::StatusOr<IdPoolConfig> ParseIdPoolConfig(absl::string_view text);
// Reads and validates `path`; a missing file gives the defaults (still validated).
absl::StatusOr<IdPoolConfig> LoadIdPoolConfig(const std::string& path);
// $CORRAL_IDMAP_CONFIG if set and not empty, else kDefaultIdPoolConfigPath.
std::string IdPoolConfigPath();

// The checks ParseIdPoolConfig applies, for a config built in code.
absl::Status ValidateIdPoolConfig(const IdPoolConfig& config);

struct IdAllocation {
  uint32_t base = 0;     // host id of uid/gid 0 inside
  std::string owner;     // "ctr:NAME" (corrald) or "run:PID:STARTTIME" (corral-run)
};

// The owner key of a corral-run process: its pid and start time (field 22 of /proc/PID/stat),
// so a recycled pid does not inherit a dead run's block.
absl::StatusOr<std::string> RunOwner(pid_t pid);
// Whether `owner` is a corral-run that is gone (no such pid, or another process by now).
bool IsStaleRunOwner(absl::string_view owner);

class IdPool {
 public:
  explicit IdPool(IdPoolConfig config) : config_(std::move(config)) {}

  // Gives `owner` a block: the one it has already, else the lowest free one. Blocks of
  // corral-runs that have exited, and whose containers have too (no process runs as one of
  // the block's uids), are reclaimed first. ResourceExhausted, changing nothing,
  // when the pool is full.
  absl::StatusOr<IdAllocation> Allocate(const std::string& owner);
  // Records that `owner` holds the block at `base` (a config that already names its range,
  // e.g. after the state file was lost). FailedPrecondition if another owner holds an
  // overlapping block.
  absl::Status Claim(const std::string& owner, uint32_t base);
  // Frees `owner`'s block; fine if it has none.
  absl::Status Release(const std::string& owner);
  absl::StatusOr<std::vector<IdAllocation>> List() const;

  const IdPoolConfig& config() const { return config_; }
  std::string AllocationsPath() const { return config_.state_dir + "/allocations"; }

 private:
  std::string LockPath() const { return config_.state_dir + "/allocations.lock"; }
  IdPoolConfig config_;
};

// The file format, for tests: "BASE OWNER" per line.
std::string FormatAllocations(const std::vector<IdAllocation>& allocations);
absl::StatusOr<std::vector<IdAllocation>> ParseAllocations(absl::string_view text);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_IDMAP_H_
