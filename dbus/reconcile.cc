#include "dbus/reconcile.h"

#include <dirent.h>
#include <errno.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "runtime/cgroup/cgroup.h"

namespace corral::dbus {

namespace {

std::vector<pid_t> ProcsOf(const std::string& cgroup_dir) {
  std::vector<pid_t> pids;
  absl::StatusOr<std::string> text = ReadFile(cgroup_dir + "/cgroup.procs");
  if (!text.ok()) return pids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) pids.push_back(pid);
  }
  return pids;
}

// Every process of `dir` and the cgroups below it (a booted container's systemd makes its own).
void ProcsBelow(const std::string& dir, int depth, std::vector<pid_t>* pids) {
  std::vector<pid_t> here = ProcsOf(dir);
  pids->insert(pids->end(), here.begin(), here.end());
  if (depth > 8) return;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type == DT_DIR && e->d_name[0] != '.') ProcsBelow(absl::StrCat(dir, "/", e->d_name), depth + 1, pids);
  }
  ::closedir(d);
}

pid_t ParentOf(pid_t pid) {
  absl::StatusOr<std::string> status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return 0;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (absl::ConsumePrefix(&line, "PPid:")) {
      pid_t parent = 0;
      return absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &parent) ? parent : 0;
    }
  }
  return 0;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(absl::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() &&
        std::all_of(field.begin() + i + 1, field.begin() + i + 4, [](char c) { return c >= '0' && c <= '7'; })) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

// NAME of PATH = PREFIX/NAME[/...], or "".
std::string ContainerOf(const std::string& path, const std::string& prefix) {
  if (!absl::StartsWith(path, prefix + "/")) return "";
  absl::string_view rest = absl::string_view(path).substr(prefix.size() + 1);
  return std::string(rest.substr(0, rest.find('/')));
}

}  // namespace

absl::StatusOr<SupervisorState> StateFromScope(const std::string& cgroup2_root, const std::string& unit) {
  if (cgroup2_root.empty()) return absl::NotFoundError("no cgroup2");
  std::string scope = runtime::MachineScopeDirectory(cgroup2_root, unit);
  std::vector<pid_t> supervisors = ProcsOf(scope + "/supervisor");
  if (supervisors.size() != 1) return absl::NotFoundError(absl::StrCat(unit, ": no single supervisor in its leaf"));
  SupervisorState state;
  state.supervisor = supervisors[0];
  std::vector<pid_t> payload;
  ProcsBelow(scope + "/payload", 0, &payload);
  for (pid_t pid : payload) {
    if (ParentOf(pid) == state.supervisor) {
      state.leader = pid;
      break;
    }
  }
  if (state.leader <= 0) return absl::NotFoundError(absl::StrCat(unit, ": its supervisor has no container yet"));
  return state;
}

std::vector<std::string> MountPointsUnder(absl::string_view mountinfo, const std::string& prefix) {
  std::vector<std::string> points;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 5) continue;
    std::string point = Unescape(fields[4]);
    if (absl::StartsWith(point, prefix + "/")) points.push_back(std::move(point));
  }
  return points;
}

ReconcileResult ReconcileHost(const ReconcileInput& input, absl::string_view mountinfo) {
  ReconcileResult result;
  // Mounts: innermost first (mountinfo lists parents before children).
  for (const std::string& root : {input.run_root, input.lib_root}) {
    std::vector<std::string> points = MountPointsUnder(mountinfo, root);
    for (auto it = points.rbegin(); it != points.rend(); ++it) {
      std::string name = ContainerOf(*it, root);
      if (name.empty() || input.running.count(name)) continue;
      if (::umount2(it->c_str(), MNT_DETACH) == 0) result.freed.push_back(absl::StrCat("unmounted ", *it));
    }
  }
  // Run directories.
  if (DIR* d = ::opendir(input.run_root.c_str()); d != nullptr) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || input.running.count(name)) continue;
      std::string dir = absl::StrCat(input.run_root, "/", name);
      if (!input.known.count(name)) {
        if (RemoveTree(dir).ok()) result.freed.push_back(absl::StrCat("removed the run directory ", dir));
        continue;
      }
      for (const char* stale : {"/state", "/console.sock"}) {
        std::string path = dir + stale;
        if (::unlink(path.c_str()) == 0) result.freed.push_back(absl::StrCat("removed the stale ", path));
      }
    }
    ::closedir(d);
  }
  // Scopes.
  if (!input.cgroup2_root.empty()) {
    std::string slice = absl::StrCat(input.cgroup2_root, "/", runtime::kMachineSlice);
    if (DIR* d = ::opendir(slice.c_str()); d != nullptr) {
      while (dirent* e = ::readdir(d)) {
        absl::string_view unit = e->d_name;
        absl::string_view name = unit;
        if (!absl::ConsumePrefix(&name, "corral-") || !absl::ConsumeSuffix(&name, ".scope")) continue;
        // corral-run's own scopes (corral-run-NAME-PID) are its business.
        if (absl::StartsWith(name, "run-") && !input.known.count(std::string(name))) continue;
        if (input.running.count(std::string(name))) continue;
        absl::StatusOr<std::string> events = ReadFile(absl::StrCat(slice, "/", unit, "/cgroup.events"));
        if (events.ok() && absl::StrContains(*events, "populated 1")) result.stray_scopes.emplace_back(unit);
      }
      ::closedir(d);
    }
  }
  return result;
}

}  // namespace corral::dbus
