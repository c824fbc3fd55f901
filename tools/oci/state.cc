// corral-oci globals, errors and the state of a container in --root/ID/state.json.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "runtime/attach.h"
#include "runtime/capabilities.h"
#include "runtime/clone.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/oci/config.h"
#include "runtime/oci/launch.h"
#include "runtime/spec.h"
#include "tools/oci/state.h"

namespace corral::oci_cli {

using json = nlohmann::json;
namespace oci = runtime::oci;

Globals g;

std::string Now() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  ::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return absl::StrCat(buf, ".", absl::Dec(ts.tv_nsec / 1000, absl::kZeroPad6), "Z");
}

// Errors go to stderr and, with --log, to the log file (JSON lines with --log-format json,
// which conmon and containerd read back).
void LogError(absl::string_view message) {
  std::fprintf(stderr, "corral-oci: %.*s\n", static_cast<int>(message.size()), message.data());
  if (g.log.empty()) return;
  FILE* f = std::fopen(g.log.c_str(), "ae");
  if (f == nullptr) return;
  if (g.log_json) {
    json line = {{"level", "error"}, {"msg", std::string(message)}, {"time", Now()}};
    std::fprintf(f, "%s\n", line.dump().c_str());
  } else {
    std::fprintf(f, "time=\"%s\" level=error msg=\"%.*s\"\n", Now().c_str(), static_cast<int>(message.size()),
                 message.data());
  }
  std::fclose(f);
}

absl::Status CheckId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("missing container id");
  for (char c : id) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.' || c == '+')) {
      return absl::InvalidArgumentError(absl::StrCat("invalid container id \"", id, "\""));
    }
  }
  if (id == "." || id == ".." || id.size() > 1024) return absl::InvalidArgumentError(absl::StrCat("invalid container id \"", id, "\""));
  return absl::OkStatus();
}

std::string StateDir(const std::string& id) { return g.root + "/" + id; }

std::string SeccompCacheDir() { return g.root + "/seccomp:cache"; }

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::StatusOr<uint64_t> StartTimeOf(pid_t pid, char* proc_state) {
  ASSIGN_OR_RETURN(std::string stat, ReadFile(absl::StrCat("/proc/", pid, "/stat")));
  size_t close = stat.rfind(')');
  if (proc_state != nullptr && close != std::string::npos && close + 2 < stat.size()) *proc_state = stat[close + 2];
  return ParseStatStartTime(stat);
}

absl::Status SaveState(const State& s) {
  json j = {{"id", s.id},          {"pid", s.pid},         {"start_time", s.start_time}, {"bundle", s.bundle},
            {"rootfs", s.rootfs},  {"created", s.created}, {"owner", s.owner},           {"annotations", s.annotations},
            {"cgroups", s.cgroups}, {"machine", s.machine}};
  return WriteFileAtomically(StateDir(s.id) + "/state.json", j.dump(), 0600, Durability::kProcessCrashSafe);
}

absl::StatusOr<State> LoadState(const std::string& id) {
  RETURN_IF_ERROR(CheckId(id));
  absl::StatusOr<std::string> text = ReadFile(StateDir(id) + "/state.json");
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("container \"", id, "\" does not exist"));
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError(absl::StrCat("container \"", id, "\": state.json is damaged"));
  State s;
  try {
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.start_time = j.at("start_time").get<uint64_t>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.owner = j.value("owner", "");
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.cgroups = j.value("cgroups", std::vector<std::string>{});
    s.machine = j.value("machine", "");
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("container \"", id, "\": state.json: ", e.what()));
  }
  return s;
}

// created / running / paused / stopped. The pid names our init only while its start time is
// the recorded one (a recycled pid is another process) and it is not a zombie.
std::string StatusOf(const State& s) {
  char proc_state = 0;
  absl::StatusOr<uint64_t> start = StartTimeOf(s.pid, &proc_state);
  if (!start.ok() || *start != s.start_time || proc_state == 'Z' || proc_state == 'X') return "stopped";
  if (Exists(StateDir(s.id) + "/exec.fifo")) return "created";
  for (const std::string& dir : s.cgroups) {
    absl::StatusOr<std::string> freezer = ReadFile(dir + "/freezer.state");
    if (freezer.ok() && absl::StartsWith(*freezer, "FROZEN")) return "paused";
    absl::StatusOr<std::string> events = ReadFile(dir + "/cgroup.events");
    if (events.ok() && absl::StrContains(*events, "frozen 1")) return "paused";
  }
  return "running";
}

std::string StateJson(const State& s, const std::string& status, bool pretty) {
  json j = {{"ociVersion", oci::kSpecVersion}, {"id", s.id},         {"status", status},
            {"pid", status == "stopped" ? 0 : s.pid}, {"bundle", s.bundle}, {"rootfs", s.rootfs},
            {"created", s.created},           {"owner", s.owner}};
  j["annotations"] = s.annotations;
  return pretty ? j.dump(2) : j.dump();
}

// A pidfd of the init, or "container not running" when it is gone.
absl::StatusOr<UniqueFd> OpenInit(const State& s) {
  UniqueFd pidfd(sys::PidfdOpen(s.pid, 0));
  if (!pidfd) return absl::FailedPreconditionError("container not running");
  // Checked after opening: once we hold the pidfd, the pid cannot be recycled under it.
  if (StatusOf(s) == "stopped") return absl::FailedPreconditionError("container not running");
  return pidfd;
}

std::string OwnerName() {
  struct passwd* pw = ::getpwuid(::getuid());
  return pw != nullptr ? pw->pw_name : absl::StrCat(::getuid());
}

}  // namespace corral::oci_cli
