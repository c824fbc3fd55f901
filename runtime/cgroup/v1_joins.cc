#include "runtime/cgroup/v1_joins.h"

#include <fcntl.h>

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace corral::runtime {
namespace {

// The v1 hierarchies an exec'd process shares with the leader: those that account for it and
// limit it (memory, pids, CPU, I/O, and devices, where a hybrid host's scope keeps its
// DevicePolicy), and systemd's own. Never freezer: a container that is host root can freeze
// its leader's freezer cgroup, and a helper joining it there would stop, frozen, in the host's
// PID namespace and ignoring SIGKILL. Nor any other hierarchy we do not know; a hierarchy with
// several controllers is joined only when each of them is one of these.
bool JoinableV1Hierarchy(absl::string_view controllers) {
  static constexpr absl::string_view kJoinable[] = {"memory", "pids",   "cpu",     "cpuacct",     "cpuset",
                                                    "blkio",  "io",     "hugetlb", "devices", "name=systemd"};
  for (absl::string_view c : absl::StrSplit(controllers, ',')) {
    if (std::find(std::begin(kJoinable), std::end(kJoinable), c) == std::end(kJoinable)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<UniqueFd>> OpenV1CgroupJoins(pid_t pid) {
  std::vector<UniqueFd> joins;
  ASSIGN_OR_RETURN(std::string ours, ReadFile("/proc/self/cgroup"));
  // "ID:controllers:path"; a pure cgroup2 host has only "0::/...".
  std::map<std::string, std::string> our_paths;
  for (absl::string_view line : absl::StrSplit(ours, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() == 3 && f[0] != "0") our_paths[f[1]] = f[2];
  }
  if (our_paths.empty()) return joins;
  ASSIGN_OR_RETURN(std::string theirs, ReadFile(absl::StrCat("/proc/", pid, "/cgroup")));
  std::vector<std::vector<std::string>> elsewhere;  // "ID:controllers:path" where we are not
  for (absl::string_view line : absl::StrSplit(theirs, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3 || f[0] == "0" || f[1].empty() || !JoinableV1Hierarchy(f[1])) continue;
    auto our = our_paths.find(f[1]);
    if (our != our_paths.end() && our->second == f[2]) continue;  // already there
    elsewhere.push_back(std::move(f));
  }
  // The usual case for the supervisor, which shares the leader's v1 cgroups: nothing to join,
  // and no mount table to read (large on some hosts).
  if (elsewhere.empty()) return joins;
  ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  for (const std::vector<std::string>& f : elsewhere) {
    if (f[2].find("/..") != std::string::npos || f[2].empty() || f[2][0] != '/') {
      return absl::FailedPreconditionError(absl::StrCat("the container's v1 cgroup path \"", f[2], "\" is unusable"));
    }
    // The mount of this hierarchy: fstype cgroup, super options naming every controller.
    std::vector<std::string> controllers = absl::StrSplit(f[1], ',');
    std::string file;
    for (absl::string_view mount : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
      size_t dash = mount.find(" - ");
      if (dash == absl::string_view::npos) continue;
      std::vector<absl::string_view> tail = absl::StrSplit(mount.substr(dash + 3), ' ');
      std::vector<absl::string_view> head = absl::StrSplit(mount.substr(0, dash), ' ');
      if (tail.size() < 3 || tail[0] != "cgroup" || head.size() < 5) continue;
      std::vector<absl::string_view> options = absl::StrSplit(tail[2], ',');
      bool all = true;
      for (const std::string& c : controllers) {
        bool found = false;
        for (absl::string_view o : options) found |= o == c;
        all &= found;
      }
      if (!all) continue;
      std::string root(head[3]);
      std::string relative = f[2];
      if (root != "/") {
        if (!absl::StartsWith(relative, root)) continue;
        relative = relative.substr(root.size());
      }
      file = absl::StrCat(head[4], relative == "/" ? "" : relative, "/cgroup.procs");
      break;
    }
    if (file.empty()) continue;  // not mounted here: nothing we could join
    if (joins.size() == kMaxV1Joins) return absl::ResourceExhaustedError("too many cgroup v1 hierarchies");
    UniqueFd procs(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs) return ErrnoError(absl::StrCat("open ", file, " to join the container's v1 cgroup"));
    joins.push_back(std::move(procs));
  }
  return joins;
}

}  // namespace corral::runtime
