// corral-oci list, spec, features, ps, pause/resume and update.
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
#include "tools/oci/cgroups.h"
#include "tools/oci/commands.h"
#include "tools/oci/state.h"

namespace corral::oci_cli {

using json = nlohmann::json;
namespace oci = runtime::oci;

int CmdList(std::vector<std::string> args) {
  bool as_json = false, quiet = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--format" || args[i] == "-f") {
      as_json = i + 1 < args.size() && args[++i] == "json";
    } else if (args[i] == "--format=json") {
      as_json = true;
    } else if (args[i] == "-q" || args[i] == "--quiet") {
      quiet = true;
    }
  }
  std::vector<State> states;
  if (UniqueFd dir(::open(g.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); dir) {
    DIR* d = ::fdopendir(dir.release());
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      absl::StatusOr<State> s = LoadState(e->d_name);
      if (s.ok()) states.push_back(*s);
    }
    ::closedir(d);
  }
  std::sort(states.begin(), states.end(), [](const State& a, const State& b) { return a.id < b.id; });
  if (as_json) {
    json list = json::array();
    for (const State& s : states) list.push_back(json::parse(StateJson(s, StatusOf(s), false)));
    std::printf("%s\n", list.dump().c_str());
    return 0;
  }
  if (!quiet) std::printf("%-20s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const State& s : states) {
    std::string status = StatusOf(s);
    if (quiet) {
      std::printf("%s\n", s.id.c_str());
    } else {
      std::printf("%-20s %-8d %-10s %-40s %-32s %s\n", s.id.c_str(), status == "stopped" ? 0 : s.pid, status.c_str(),
                  s.bundle.c_str(), s.created.c_str(), s.owner.c_str());
    }
  }
  return 0;
}

int CmdSpec(std::vector<std::string> args) {
  std::string bundle = ".";
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--bundle" || args[i] == "-b") && i + 1 < args.size()) bundle = args[++i];
  }
  std::string path = bundle + "/config.json";
  if (Exists(path)) return LogError(absl::StrCat("File ", path, " exists. Remove it first")), 1;
  absl::Status st = WriteFileAtomically(path, oci::DefaultConfigJson(), 0644, Durability::kProcessCrashSafe);
  if (!st.ok()) return LogError(st.message()), 1;
  return 0;
}

int CmdFeatures() {
  std::vector<std::string> options;
  for (const char* o : {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime",
                        "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private",
                        "rbind", "relatime", "remount", "ro", "rprivate", "rro", "rshared", "rslave", "runbindable",
                        "rw", "shared", "slave", "strictatime", "suid", "sync", "unbindable"}) {
    options.push_back(o);
  }
  json features = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", oci::kSpecVersion},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions", options},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"capabilities", json::array()},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                       "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators", {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                         "SCMP_CMP_NE"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
      {"annotations", {{"org.corral.oci.version", kVersion}}}};
  for (int cap = 0; cap <= 40; ++cap) {
    std::string name = absl::AsciiStrToUpper(runtime::CapabilityName(cap));
    features["linux"]["capabilities"].push_back(name);
  }
  std::printf("%s\n", features.dump(2).c_str());
  return 0;
}

int CmdPs(std::vector<std::string> args) {
  bool as_json = false;
  std::string id;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--format" || args[i] == "-f") {
      as_json = i + 1 < args.size() && args[++i] == "json";
    } else if (args[i] == "--format=json") {
      as_json = true;
    } else if (id.empty()) {
      id = args[i];
    }
  }
  absl::StatusOr<State> s = LoadState(id);
  if (!s.ok()) return LogError(s.status().message()), 1;
  if (StatusOf(*s) == "stopped") return LogError("container not running"), 1;
  std::vector<pid_t> pids = CgroupPids(s->cgroups);
  if (pids.empty()) pids.push_back(s->pid);
  if (as_json) {
    std::printf("%s\n", json(pids).dump().c_str());
    return 0;
  }
  std::printf("PID\n");
  for (pid_t pid : pids) std::printf("%d\n", pid);
  return 0;
}

int CmdFreeze(const std::string& id, bool freeze) {
  absl::StatusOr<State> s = LoadState(id);
  if (!s.ok()) return LogError(s.status().message()), 1;
  if (StatusOf(*s) == "stopped") return LogError("container not running"), 1;
  for (const std::string& dir : s->cgroups) {
    if (Exists(dir + "/cgroup.freeze")) {
      absl::Status st = WriteExistingFile(dir + "/cgroup.freeze", freeze ? "1" : "0");
      if (!st.ok()) return LogError(st.message()), 1;
      return 0;
    }
    if (Exists(dir + "/freezer.state")) {
      absl::Status st = WriteExistingFile(dir + "/freezer.state", freeze ? "FROZEN" : "THAWED");
      if (!st.ok()) return LogError(st.message()), 1;
      return 0;
    }
  }
  return LogError("pause needs a cgroup freezer: the container's cgroup has none (cgroup.freeze, freezer.state)"), 1;
}

int CmdUpdate(std::vector<std::string> args) {
  std::string file, id;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--resources" || args[i] == "-r") {
      file = i + 1 < args.size() ? args[++i] : "";
    } else if (!absl::StartsWith(args[i], "-")) {
      id = args[i];
    }
  }
  absl::StatusOr<State> s = LoadState(id);
  if (!s.ok()) return LogError(s.status().message()), 1;
  std::string text;
  if (file == "-" || file.empty()) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  } else {
    absl::StatusOr<std::string> read = ReadFile(file);
    if (!read.ok()) return LogError(read.status().message()), 1;
    text = *read;
  }
  absl::StatusOr<oci::Resources> res = oci::ParseResources(text);
  if (!res.ok()) return LogError(res.status().message()), 1;
  // Only a state written before every container had a cgroup (the default one) lacks them.
  if (s->cgroups.empty()) return LogError("update: the container has no cgroup (created by an older corral-oci)"), 1;
  absl::Status st = ApplyResources(s->cgroups, *res);
  if (!st.ok()) return LogError(st.message()), 1;
  if (!res->devices.empty()) {
    absl::StatusOr<oci::Config> config = SavedConfig(*s);
    if (!config.ok()) return LogError(config.status().message()), 1;
    st = ApplyDeviceRules(s->cgroups, DeviceRules(*config, res->devices));
    if (!st.ok()) return LogError(st.message()), 1;
  }
  return 0;
}

}  // namespace corral::oci_cli
