#include "runtime/idmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral::runtime {

namespace {

// A crash between the write and the rename leaves the old file; a power cut may lose the last
// change, after which no container runs and a lost corral-run block is reclaimed anyway, and a
// corrald container's range is also in its own config (Claim puts it back).
constexpr Durability kAllocationDurability = Durability::kProcessCrashSafe;

bool Overlaps(uint64_t a_first, uint64_t a_end, uint64_t b_first, uint64_t b_end) {
  return a_first < b_end && b_first < a_end;
}

std::string RangeText(uint64_t first, uint64_t end) { return absl::StrCat(first, "-", end - 1); }

// Entries "NAME:FIRST:COUNT" of /etc/subuid or /etc/subgid.
absl::Status CheckAgainstSubids(const IdPoolConfig& config, const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return absl::IsNotFound(text.status()) ? absl::OkStatus() : text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    uint64_t first = 0, count = 0;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[1], &first) || !absl::SimpleAtoi(fields[2], &count)) continue;
    for (const IdRange& r : config.ranges) {
      if (Overlaps(r.first, r.end(), first, first + count)) {
        return absl::InvalidArgumentError(absl::StrCat("idmap config: range ", RangeText(r.first, r.end()),
                                                       " overlaps ", RangeText(first, first + count), " of \"",
                                                       fields[0], "\" in ", path,
                                                       " (choose a range outside every subordinate id range)"));
      }
    }
  }
  return absl::OkStatus();
}


absl::StatusOr<std::string> StartTime(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  ASSIGN_OR_RETURN(std::string stat, ReadFile(path));
  absl::StatusOr<uint64_t> start = ParseStatStartTime(stat);
  if (!start.ok()) return absl::DataLossError(absl::StrCat(path, ": ", start.status().message()));
  return absl::StrCat(*start);
}

// The corral-run owners among `allocations` whose blocks may be taken back: the corral-run is
// gone (or its pid is another process by now) and no process runs as a uid of the block. A
// corral-run killed with SIGKILL can leave its container running, reparented: its block stays
// in use until the container's last process is gone. The scan of /proc happens only when a
// dead corral-run owner is found at all.
std::set<std::string> ReclaimableRuns(const std::vector<IdAllocation>& allocations) {
  std::set<std::string> dead;
  for (const IdAllocation& a : allocations) {
    if (IsStaleRunOwner(a.owner)) dead.insert(a.owner);
  }
  if (dead.empty()) return dead;
  std::vector<uid_t> uids;
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      pid_t pid = 0;
      if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
      absl::StatusOr<std::string> status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
      if (!status.ok()) continue;  // exited meanwhile
      // A zombie runs nothing (and a container's PID 1 left unreaped by a careless init must
      // not hold the block for ever).
      if (absl::StrContains(*status, "\nState:\tZ")) continue;
      size_t at = status->find("\nUid:");
      if (at == std::string::npos) continue;
      std::vector<absl::string_view> fields =
          absl::StrSplit(absl::string_view(*status).substr(at + 5, status->find('\n', at + 1) - at - 5), '\t',
                         absl::SkipWhitespace());
      for (absl::string_view f : fields) {
        uid_t uid = 0;
        if (absl::SimpleAtoi(f, &uid)) uids.push_back(uid);
      }
    }
    ::closedir(proc);
  }
  for (const IdAllocation& a : allocations) {
    if (!dead.count(a.owner)) continue;
    for (uid_t uid : uids) {
      if (uid >= a.base && uint64_t{uid} < uint64_t{a.base} + kIdBlockSize) {
        dead.erase(a.owner);  // its container still runs
        break;
      }
    }
  }
  return dead;
}

}  // namespace

absl::Status ValidateIdPoolConfig(const IdPoolConfig& config) {
  if (config.ranges.empty()) return absl::InvalidArgumentError("idmap config: no range");
  if (config.state_dir.empty() || config.state_dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("idmap config: state_dir \"", config.state_dir, "\" is not absolute"));
  }
  for (size_t i = 0; i < config.ranges.size(); ++i) {
    const IdRange& r = config.ranges[i];
    if (r.count < kIdBlockSize || r.count % kIdBlockSize != 0) {
      return absl::InvalidArgumentError(absl::StrCat("idmap config: range ", r.first, " ", r.count,
                                                     ": the count must be a non-zero multiple of 65536"));
    }
    if (r.first < kIdBlockSize) {
      return absl::InvalidArgumentError(absl::StrCat("idmap config: range ", RangeText(r.first, r.end()),
                                                     " overlaps the host's own ids 0-65535"));
    }
    // 4294967295 is (uid_t)-1, "no id"; 4294967294 is kept free as the kernel's overflow ids do.
    if (r.end() > 4294967294ull) {
      return absl::InvalidArgumentError(
          absl::StrCat("idmap config: range ", r.first, " ", r.count, " runs past 4294967293"));
    }
    for (size_t j = 0; j < i; ++j) {
      const IdRange& o = config.ranges[j];
      if (Overlaps(r.first, r.end(), o.first, o.end())) {
        return absl::InvalidArgumentError(absl::StrCat("idmap config: range ", RangeText(r.first, r.end()),
                                                       " overlaps range ", RangeText(o.first, o.end())));
      }
    }
  }
  RETURN_IF_ERROR(CheckAgainstSubids(config, config.subuid));
  return CheckAgainstSubids(config, config.subgid);
}

absl::StatusOr<IdPoolConfig> ParseIdPoolConfig(absl::string_view text) {
  IdPoolConfig config;
  bool ranges_given = false;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("idmap config line ", number, ": ", what));
    };
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) return error(absl::StrCat("\"", line, "\" is not key = value"));
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (key == "range") {
      std::vector<absl::string_view> parts = absl::StrSplit(value, ' ', absl::SkipWhitespace());
      uint64_t first = 0, count = 0;
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &first) || !absl::SimpleAtoi(parts[1], &count) ||
          first > UINT32_MAX || count > UINT32_MAX) {
        return error(absl::StrCat("range \"", value, "\" is not FIRST COUNT (two numbers)"));
      }
      if (!ranges_given) config.ranges.clear();
      ranges_given = true;
      config.ranges.push_back({static_cast<uint32_t>(first), static_cast<uint32_t>(count)});
    } else if (key == "state_dir") {
      config.state_dir = std::string(value);
    } else if (key == "subuid") {
      config.subuid = std::string(value);
    } else if (key == "subgid") {
      config.subgid = std::string(value);
    } else {
      return error(absl::StrCat("unknown key \"", key, "\" (known: range, state_dir, subuid, subgid)"));
    }
  }
  RETURN_IF_ERROR(ValidateIdPoolConfig(config));
  return config;
}

absl::StatusOr<IdPoolConfig> LoadIdPoolConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    if (!absl::IsNotFound(text.status())) return text.status();
    IdPoolConfig defaults;
    RETURN_IF_ERROR(Annotate(ValidateIdPoolConfig(defaults), "default idmap config"));
    return defaults;
  }
  absl::StatusOr<IdPoolConfig> config = ParseIdPoolConfig(*text);
  if (!config.ok()) return Annotate(config.status(), path);
  return config;
}

std::string IdPoolConfigPath() {
  const char* path = std::getenv("CORRAL_IDMAP_CONFIG");
  return path != nullptr && *path != '\0' ? path : kDefaultIdPoolConfigPath;
}

absl::StatusOr<std::string> RunOwner(pid_t pid) {
  ASSIGN_OR_RETURN(std::string start, StartTime(pid));
  return absl::StrCat("run:", pid, ":", start);
}

bool IsStaleRunOwner(absl::string_view owner) {
  std::vector<absl::string_view> parts = absl::StrSplit(owner, ':');
  pid_t pid = 0;
  if (parts.size() != 3 || parts[0] != "run" || !absl::SimpleAtoi(parts[1], &pid) || pid <= 0) return false;
  absl::StatusOr<std::string> start = StartTime(pid);
  return !start.ok() || *start != parts[2];
}

std::string FormatAllocations(const std::vector<IdAllocation>& allocations) {
  std::string out;
  for (const IdAllocation& a : allocations) absl::StrAppend(&out, a.base, " ", a.owner, "\n");
  return out;
}

absl::StatusOr<std::vector<IdAllocation>> ParseAllocations(absl::string_view text) {
  std::vector<IdAllocation> out;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++number;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    IdAllocation a;
    if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &a.base) || fields[1].empty()) {
      return absl::DataLossError(absl::StrCat("id allocations line ", number, ": \"", line, "\" is not BASE OWNER"));
    }
    a.owner = std::string(fields[1]);
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<std::vector<IdAllocation>> IdPool::List() const {
  absl::StatusOr<std::string> text = ReadFile(AllocationsPath());
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return std::vector<IdAllocation>{};
    return text.status();
  }
  absl::StatusOr<std::vector<IdAllocation>> list = ParseAllocations(*text);
  if (!list.ok()) return Annotate(list.status(), AllocationsPath());
  return list;
}

absl::StatusOr<IdAllocation> IdPool::Allocate(const std::string& owner) {
  RETURN_IF_ERROR(MakeDirectories(config_.state_dir, 0700));
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(LockPath()));
  ASSIGN_OR_RETURN(std::vector<IdAllocation> allocations, List());
  size_t before = allocations.size();
  std::set<std::string> reclaimable = ReclaimableRuns(allocations);
  allocations.erase(std::remove_if(allocations.begin(), allocations.end(),
                                   [&](const IdAllocation& a) { return reclaimable.count(a.owner) > 0; }),
                    allocations.end());
  for (const IdAllocation& a : allocations) {
    if (a.owner == owner) {
      if (allocations.size() != before) {
        RETURN_IF_ERROR(WriteFileAtomically(AllocationsPath(), FormatAllocations(allocations), 0600,
                                            kAllocationDurability));
      }
      return a;
    }
  }
  std::vector<uint32_t> taken;
  for (const IdAllocation& a : allocations) taken.push_back(a.base);
  std::sort(taken.begin(), taken.end());
  for (const IdRange& range : config_.ranges) {
    for (uint64_t base = range.first; base + kIdBlockSize <= range.end();) {
      // The first taken block that ends after `base` (blocks of an older configuration need
      // not be aligned with this one).
      auto it = std::upper_bound(taken.begin(), taken.end(), base,
                                 [](uint64_t b, uint32_t t) { return b < uint64_t{t} + kIdBlockSize; });
      if (it != taken.end() && *it < base + kIdBlockSize) {
        // Taken: jump to the first aligned block after it (the pool holds ~28000 blocks).
        uint64_t next = uint64_t{*it} + kIdBlockSize;
        base = range.first + (next - range.first + kIdBlockSize - 1) / kIdBlockSize * kIdBlockSize;
        continue;
      }
      IdAllocation mine{static_cast<uint32_t>(base), owner};
      allocations.push_back(mine);
      RETURN_IF_ERROR(
          WriteFileAtomically(AllocationsPath(), FormatAllocations(allocations), 0600, kAllocationDurability));
      return mine;
    }
  }
  std::vector<std::string> ranges;
  for (const IdRange& r : config_.ranges) ranges.push_back(RangeText(r.first, r.end()));
  return absl::ResourceExhaustedError(absl::StrCat(
      "no free block of 65536 host uids/gids left in the user namespace pool (", absl::StrJoin(ranges, ", "), "; ",
      allocations.size(), " in use, recorded in ", AllocationsPath(), "): remove containers or add a range in ",
      IdPoolConfigPath()));
}

absl::Status IdPool::Claim(const std::string& owner, uint32_t base) {
  RETURN_IF_ERROR(MakeDirectories(config_.state_dir, 0700));
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(LockPath()));
  ASSIGN_OR_RETURN(std::vector<IdAllocation> allocations, List());
  for (const IdAllocation& a : allocations) {
    if (a.owner == owner && a.base == base) return absl::OkStatus();  // the usual case
  }
  std::set<std::string> reclaimable = ReclaimableRuns(allocations);
  for (const IdAllocation& a : allocations) {
    if (Overlaps(base, uint64_t{base} + kIdBlockSize, a.base, uint64_t{a.base} + kIdBlockSize) &&
        !reclaimable.count(a.owner)) {
      return absl::FailedPreconditionError(absl::StrCat("host ids ", RangeText(base, uint64_t{base} + kIdBlockSize),
                                                        " of ", owner, " are held by ", a.owner, " (", AllocationsPath(),
                                                        ")"));
    }
  }
  allocations.erase(std::remove_if(allocations.begin(), allocations.end(),
                                   [&](const IdAllocation& a) { return a.owner == owner || reclaimable.count(a.owner); }),
                    allocations.end());
  allocations.push_back({base, owner});
  return WriteFileAtomically(AllocationsPath(), FormatAllocations(allocations), 0600, kAllocationDurability);
}

absl::Status IdPool::Release(const std::string& owner) {
  if (::access(config_.state_dir.c_str(), F_OK) != 0) return absl::OkStatus();  // nothing was ever allocated
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(LockPath()));
  ASSIGN_OR_RETURN(std::vector<IdAllocation> allocations, List());
  size_t before = allocations.size();
  allocations.erase(std::remove_if(allocations.begin(), allocations.end(),
                                   [&](const IdAllocation& a) { return a.owner == owner; }),
                    allocations.end());
  if (allocations.size() == before) return absl::OkStatus();
  return WriteFileAtomically(AllocationsPath(), FormatAllocations(allocations), 0600, kAllocationDurability);
}

}  // namespace corral::runtime
