#include "runtime/cgroup/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace corral::runtime {
namespace {

// v1 limits from here up mean "unlimited" (PAGE_COUNTER_MAX pages for memory); no host has
// 4 EiB of memory.
constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;

std::optional<std::string> ReadIfThere(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  return *std::move(text);
}

// "mount point" + the cgroup path below the mount's root; nullopt when the cgroup is not below it.
std::optional<std::string> DirectoryFor(const CgroupMount& mount, absl::string_view path) {
  if (absl::StrContains(path, "/..") || !absl::StartsWith(path, "/")) return std::nullopt;  // outside our namespace
  absl::string_view root = mount.root;
  if (root != "/") {
    if (!absl::ConsumePrefix(&path, root) || (!path.empty() && path[0] != '/')) return std::nullopt;
  }
  if (path == "/") path = "";
  return absl::StrCat(mount.mount_point, path);
}

// Appends the pids in `dir`/cgroup.procs and below to `pids`.
absl::Status CollectProcs(const std::string& dir, std::vector<pid_t>* pids) {
  absl::StatusOr<std::string> procs = ReadFile(dir + "/cgroup.procs");
  if (!procs.ok()) {
    // A child cgroup removed between the listing and the read: nothing of it to list.
    if (absl::IsNotFound(procs.status()) && !pids->empty()) return absl::OkStatus();
    return procs.status();
  }
  for (absl::string_view line : absl::StrSplit(*procs, '\n', absl::SkipEmpty())) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) pids->push_back(pid);
  }
  DIR* listing = ::opendir(dir.c_str());
  if (listing == nullptr) return errno == ENOENT ? absl::OkStatus() : ErrnoError(absl::StrCat("opendir ", dir));
  std::vector<std::string> children;
  while (dirent* entry = ::readdir(listing)) {
    if (entry->d_type != DT_DIR || entry->d_name[0] == '.') continue;
    children.push_back(absl::StrCat(dir, "/", entry->d_name));
  }
  ::closedir(listing);
  for (const std::string& child : children) RETURN_IF_ERROR(CollectProcs(child, pids));
  return absl::OkStatus();
}

}  // namespace

namespace {

// True when a mount listed after `index` sits on `mount_point` or on a directory above it:
// the mount at `mount_point` is covered and a path under it reaches the later one (a cgroup2
// mounted over a hybrid host's /sys/fs/cgroup hides its v1 hierarchies and its unified/).
bool CoveredByALaterMount(const std::vector<absl::string_view>& mount_points, size_t index) {
  absl::string_view mine = mount_points[index];
  for (size_t later = index + 1; later < mount_points.size(); ++later) {
    absl::string_view over = mount_points[later];
    if (over == mine || (absl::StartsWith(mine, over) && mine[over.size()] == '/')) return true;
  }
  return false;
}

}  // namespace

CgroupMounts ParseCgroupMounts(absl::string_view mountinfo) {
  CgroupMounts mounts;
  std::vector<absl::string_view> lines = absl::StrSplit(mountinfo, '\n', absl::SkipEmpty());
  std::vector<absl::string_view> mount_points;
  for (absl::string_view line : lines) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(' ', 5));
    mount_points.push_back(fields.size() > 4 ? fields[4] : absl::string_view());
  }
  for (size_t index = 0; index < lines.size(); ++index) {
    absl::string_view line = lines[index];
    // "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS"
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (fields.size() < 5 || dash + 3 >= fields.size()) continue;
    CgroupMount mount{std::string(fields[4]), std::string(fields[3])};
    absl::string_view type = fields[dash + 1];
    if ((type == "cgroup2" || type == "cgroup") && CoveredByALaterMount(mount_points, index)) continue;
    if (type == "cgroup2") {
      if (!mounts.unified) mounts.unified = mount;
    } else if (type == "cgroup") {
      // The controllers are among the super options: "rw,memory" or "rw,name=systemd".
      for (absl::string_view option : absl::StrSplit(fields[dash + 3], ',')) {
        if (option == "rw" || option == "ro" || absl::StartsWith(option, "release_agent=") ||
            option == "clone_children" || option == "noprefix" || option == "xattr") {
          continue;
        }
        mounts.v1.emplace(std::string(option), mount);
      }
    }
  }
  return mounts;
}

ProcCgroups ParseProcCgroup(absl::string_view text) {
  ProcCgroups cgroups;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    if (fields[0] == "0" && fields[1].empty()) {
      cgroups.unified = std::string(fields[2]);
      continue;
    }
    for (absl::string_view controller : absl::StrSplit(fields[1], ',', absl::SkipEmpty())) {
      cgroups.v1[std::string(controller)] = std::string(fields[2]);
    }
  }
  return cgroups;
}

std::optional<uint64_t> FindKeyedValue(absl::string_view text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    uint64_t value = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &value)) return value;
  }
  return std::nullopt;
}

IoBytes ParseIoStat(absl::string_view text) {
  IoBytes io;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      uint64_t value = 0;
      if (absl::ConsumePrefix(&field, "rbytes=") && absl::SimpleAtoi(field, &value)) io.read += value;
      if (absl::ConsumePrefix(&field, "wbytes=") && absl::SimpleAtoi(field, &value)) io.write += value;
    }
  }
  return io;
}

IoBytes ParseBlkioServiceBytes(absl::string_view text) {
  IoBytes io;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t value = 0;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[2], &value)) continue;  // the "Total N" line
    if (fields[1] == "Read") io.read += value;
    if (fields[1] == "Write") io.write += value;
  }
  return io;
}

std::optional<uint64_t> ParseCounter(absl::string_view text) {
  uint64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) return std::nullopt;
  return value;
}

std::optional<uint64_t> ParseLimit(absl::string_view text) {
  std::optional<uint64_t> value = ParseCounter(text);
  if (!value || *value >= kV1Unlimited) return std::nullopt;
  return value;
}

absl::StatusOr<Cgroup> Cgroup::Of(pid_t pid) {
  ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  ASSIGN_OR_RETURN(std::string cgroups, ReadFile(pid == 0 ? "/proc/self/cgroup" : absl::StrCat("/proc/", pid, "/cgroup")));
  return FromTexts(mountinfo, cgroups);
}

absl::StatusOr<Cgroup> Cgroup::FromTexts(absl::string_view mountinfo, absl::string_view proc_cgroup) {
  CgroupMounts mounts = ParseCgroupMounts(mountinfo);
  ProcCgroups cgroups = ParseProcCgroup(proc_cgroup);
  Cgroup cgroup;
  if (mounts.unified && cgroups.unified) {
    std::optional<std::string> dir = DirectoryFor(*mounts.unified, *cgroups.unified);
    if (!dir) {
      return absl::FailedPreconditionError(
          absl::StrCat("cgroup ", *cgroups.unified, " is outside the cgroup2 mount at ", mounts.unified->mount_point));
    }
    cgroup.unified_ = {mounts.unified->mount_point, *dir, *dir};
  }
  for (const auto& [controller, path] : cgroups.v1) {
    auto mount = mounts.v1.find(controller);
    if (mount == mounts.v1.end() || path == "/") continue;  // unmounted, or the root: the host's figures
    std::optional<std::string> dir = DirectoryFor(mount->second, path);
    if (dir) cgroup.v1_[controller] = {mount->second.mount_point, *dir, *dir};
  }
  if (cgroup.unified_.dir.empty() && cgroup.v1_.empty()) {
    return absl::FailedPreconditionError("the process is in no mounted cgroup hierarchy");
  }
  return cgroup;
}

bool Cgroup::Narrow(Place* place, absl::string_view unit, absl::string_view leaf) {
  absl::string_view below = place->dir;
  if (!absl::ConsumePrefix(&below, place->mount_point)) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(below, '/', absl::SkipEmpty());
  std::string dir = place->mount_point;
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::StrAppend(&dir, "/", parts[i]);
    if (parts[i] != unit) continue;
    place->floor = dir;
    if (i + 1 < parts.size() && parts[i + 1] == leaf) absl::StrAppend(&dir, "/", leaf);
    place->dir = dir;
    return true;
  }
  return false;
}

absl::Status Cgroup::ScopeTo(absl::string_view unit, absl::string_view leaf) {
  if (!unified_.dir.empty() && !Narrow(&unified_, unit, leaf)) {
    return absl::FailedPreconditionError(absl::StrCat("the process's cgroup ", unified_.dir, " is not under ", unit));
  }
  for (auto i = v1_.begin(); i != v1_.end();) {
    i = Narrow(&i->second, unit, leaf) ? std::next(i) : v1_.erase(i);
  }
  return absl::OkStatus();
}

std::string Cgroup::V1Directory(const std::string& controller) const {
  const Place* place = V1(controller);
  return place == nullptr ? "" : place->dir;
}

std::string Cgroup::Layout() const {
  bool any_v1_controller = false;
  for (const auto& entry : v1_) any_v1_controller |= !absl::StartsWith(entry.first, "name=");
  if (unified_.dir.empty()) return "legacy";
  return any_v1_controller ? "hybrid" : "unified";
}

const Cgroup::Place* Cgroup::V1(const std::string& controller) const {
  auto i = v1_.find(controller);
  return i == v1_.end() ? nullptr : &i->second;
}

std::optional<std::string> Cgroup::ReadUp(const Place& place, absl::string_view file) {
  if (place.dir.empty()) return std::nullopt;
  for (std::string dir = place.dir;; dir = dir.substr(0, dir.rfind('/'))) {
    if (std::optional<std::string> text = ReadIfThere(absl::StrCat(dir, "/", file))) return text;
    if (dir.size() <= place.floor.size() || dir.rfind('/') == std::string::npos) return std::nullopt;
  }
}

std::optional<uint64_t> Cgroup::LeastLimit(const Place& place, absl::string_view file) {
  std::optional<uint64_t> least;
  if (place.dir.empty()) return least;
  for (std::string dir = place.dir; dir.size() > place.mount_point.size(); dir = dir.substr(0, dir.rfind('/'))) {
    std::optional<std::string> text = ReadIfThere(absl::StrCat(dir, "/", file));
    std::optional<uint64_t> limit = text ? ParseLimit(*text) : std::nullopt;
    if (limit && (!least || *limit < *least)) least = limit;
  }
  return least;
}

CgroupStats Cgroup::Stats() const {
  CgroupStats stats;
  // The first of (place, file) that has the figure.
  auto counter = [&](std::initializer_list<std::pair<const Place*, absl::string_view>> sources) -> uint64_t {
    for (const auto& [place, file] : sources) {
      if (place == nullptr) continue;
      std::optional<std::string> text = ReadUp(*place, file);
      if (std::optional<uint64_t> value = text ? ParseCounter(*text) : std::nullopt) return *value;
    }
    return 0;
  };
  // The limit from the first hierarchy that has the controller at all.
  auto limit = [&](std::initializer_list<std::pair<const Place*, absl::string_view>> sources) -> uint64_t {
    for (const auto& [place, file] : sources) {
      if (place == nullptr || !ReadUp(*place, file)) continue;
      return LeastLimit(*place, file).value_or(0);
    }
    return 0;
  };
  const Place* unified = unified_.dir.empty() ? nullptr : &unified_;
  const Place* memory = V1("memory");
  const Place* pids = V1("pids");
  stats.memory_current = counter({{unified, "memory.current"}, {memory, "memory.usage_in_bytes"}});
  stats.memory_peak = counter({{unified, "memory.peak"}, {memory, "memory.max_usage_in_bytes"}});
  stats.memory_limit = limit({{unified, "memory.max"}, {memory, "memory.limit_in_bytes"}});
  stats.pids_current = counter({{unified, "pids.current"}, {pids, "pids.current"}});
  stats.pids_limit = limit({{unified, "pids.max"}, {pids, "pids.max"}});

  std::optional<std::string> cpu = unified ? ReadUp(*unified, "cpu.stat") : std::nullopt;
  std::optional<uint64_t> usage = cpu ? FindKeyedValue(*cpu, "usage_usec") : std::nullopt;
  if (usage) {
    stats.cpu_usage_usec = *usage;
  } else {
    const Place* cpuacct = V1("cpuacct");
    std::optional<std::string> text = cpuacct ? ReadUp(*cpuacct, "cpuacct.usage") : std::nullopt;
    std::optional<uint64_t> ns = text ? ParseCounter(*text) : std::nullopt;
    stats.cpu_usage_usec = ns ? *ns / 1000 : 0;
  }

  std::optional<std::string> io = unified ? ReadUp(*unified, "io.stat") : std::nullopt;
  IoBytes bytes;
  if (io) {
    bytes = ParseIoStat(*io);
  } else if (const Place* blkio = V1("blkio")) {
    std::optional<std::string> text = ReadUp(*blkio, "blkio.throttle.io_service_bytes_recursive");
    if (!text) text = ReadUp(*blkio, "blkio.throttle.io_service_bytes");
    if (text) bytes = ParseBlkioServiceBytes(*text);
  }
  stats.io_read_bytes = bytes.read;
  stats.io_write_bytes = bytes.write;
  return stats;
}

absl::StatusOr<Cgroup> Cgroup::MakeLeaf(absl::string_view name) const {
  if (unified_.dir.empty()) return absl::FailedPreconditionError("no cgroup2 directory to make a leaf in");
  Cgroup leaf = *this;
  leaf.unified_.dir = absl::StrCat(unified_.dir, "/", name);
  leaf.unified_.floor = leaf.unified_.dir;
  if (::mkdir(leaf.unified_.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError(absl::StrCat("mkdir ", leaf.unified_.dir));
  }
  return leaf;
}

absl::Status Cgroup::Delegate(uid_t uid, gid_t gid) const {
  for (const char* entry : {"", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"}) {
    std::string path = unified_.dir + entry;
    if (::chown(path.c_str(), uid, gid) != 0) {
      return ErrnoError(absl::StrCat("delegate ", path, " to the container's root (host uid ", uid, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Cgroup::Enter(pid_t pid) const {
  if (unified_.dir.empty()) return absl::FailedPreconditionError("no cgroup2 directory to enter");
  return WriteExistingFile(unified_.dir + "/cgroup.procs", absl::StrCat(pid));
}

absl::StatusOr<UniqueFd> Cgroup::OpenDirectory() const {
  if (unified_.dir.empty()) return absl::FailedPreconditionError("no cgroup2 directory");
  UniqueFd fd(::open(unified_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(absl::StrCat("open ", unified_.dir));
  return fd;
}

absl::StatusOr<bool> Cgroup::Populated() const {
  if (unified_.dir.empty()) return absl::FailedPreconditionError("no cgroup2 directory");
  ASSIGN_OR_RETURN(std::string events, ReadFile(unified_.dir + "/cgroup.events"));
  std::optional<uint64_t> populated = FindKeyedValue(events, "populated");
  if (!populated) return absl::InternalError(absl::StrCat(unified_.dir, "/cgroup.events: no populated line"));
  return *populated != 0;
}

absl::StatusOr<std::vector<pid_t>> Cgroup::Processes() const {
  const Place* place = !unified_.dir.empty() ? &unified_ : V1("name=systemd") ? V1("name=systemd") : V1("pids");
  if (place == nullptr) return absl::FailedPreconditionError("no cgroup hierarchy lists the processes");
  std::vector<pid_t> pids;
  RETURN_IF_ERROR(CollectProcs(place->dir, &pids));
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

absl::StatusOr<std::string> Cgroup2MountPoint() {
  ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  CgroupMounts mounts = ParseCgroupMounts(mountinfo);
  if (!mounts.unified) return absl::FailedPreconditionError("no cgroup2 file system is mounted");
  return mounts.unified->mount_point;
}

absl::StatusOr<std::string> Cgroup2DirectoryOf(pid_t pid) {
  ASSIGN_OR_RETURN(Cgroup cgroup, Cgroup::Of(pid));
  if (cgroup.Directory().empty()) return absl::FailedPreconditionError("the process is in no cgroup2 directory");
  return cgroup.Directory();
}

std::string MachineScopeDirectory(absl::string_view root, absl::string_view unit) {
  return absl::StrCat(root, "/", kMachineSlice, "/", unit);
}

}  // namespace corral::runtime
