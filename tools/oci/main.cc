// corral-oci: the OCI runtime command line (as runc has it) over corral's runtime. The init of
// each container is a child of whoever called `create` (conmon, a shim), which reaps it; the
// state lives in --root/ID (state.json, exec.fifo while created, the config it was made from).
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
#include "tools/oci/systemd_scope.h"

namespace corral::oci_cli {
namespace {

using json = nlohmann::json;
namespace oci = runtime::oci;

constexpr char kVersion[] = "0.1.0";

struct Globals {
  std::string root = "/run/corral-oci";
  std::string log;
  bool log_json = false;
  bool systemd_cgroup = false;
  bool debug = false;
};
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

// ---- cgroups (cgroupfs driver) ----

// prefix-name.scope, as runc names the scope of cgroupsPath "slice:prefix:name".
std::string ScopeName(const std::string& prefix, const std::string& name) {
  if (absl::EndsWith(name, ".slice") || absl::EndsWith(name, ".scope")) return name;
  return absl::StrCat(prefix, prefix.empty() ? "" : "-", name, ".scope");
}

// The cgroup directories of a container: cgroup2's and, on a hybrid host, those of the v1
// controllers that carry its limits.
absl::StatusOr<std::vector<std::string>> CgroupDirs(const oci::Config& config, const std::string& id) {
  std::string path = config.cgroups_path;
  if (path.empty()) return std::vector<std::string>{};
  if (g.systemd_cgroup || (path[0] != '/' && absl::StrContains(path, ":"))) {
    // slice:prefix:name, as systemd names a scope; laid out under cgroupfs the same way.
    std::vector<std::string> parts = absl::StrSplit(path, ':');
    if (parts.size() != 3) return absl::InvalidArgumentError(absl::StrCat("linux.cgroupsPath: expected slice:prefix:name, got \"", path, "\""));
    std::string slice = parts[0].empty() ? "system.slice" : parts[0];
    path = SystemdCgroupPath(slice, ScopeName(parts[1], parts[2].empty() ? id : parts[2]));
  }
  if (path[0] != '/') path = "/" + path;
  ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  runtime::CgroupMounts mounts = runtime::ParseCgroupMounts(mountinfo);
  std::vector<std::string> dirs;
  if (mounts.unified) dirs.push_back(mounts.unified->mount_point + path);
  // name=systemd too: on a hybrid host that is where systemd (and so `systemctl status`) sees
  // which unit a process belongs to.
  for (const char* controller : {"memory", "pids", "cpu", "freezer", "blkio", "devices", "name=systemd"}) {
    auto it = mounts.v1.find(controller);
    if (it != mounts.v1.end()) {
      std::string dir = it->second.mount_point + path;
      if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
    }
  }
  if (dirs.empty()) return absl::FailedPreconditionError("linux.cgroupsPath: no cgroup file system is mounted");
  return dirs;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Writes `value` to the first of `candidates` that exists (cgroup2 name first, v1 after).
absl::Status WriteLimit(const std::vector<std::string>& dirs, std::vector<std::string> files, const std::string& value,
                        absl::string_view what) {
  for (const std::string& file : files) {
    for (const std::string& dir : dirs) {
      std::string path = dir + "/" + file;
      if (Exists(path)) return Annotate(WriteExistingFile(path, value), what);
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(what, ": no cgroup controller for it (", absl::StrJoin(files, ", "), ")"));
}

absl::Status ApplyResources(const std::vector<std::string>& dirs, const oci::Resources& r) {
  if (r.memory_limit) {
    std::string v = *r.memory_limit < 0 ? "max" : absl::StrCat(*r.memory_limit);
    absl::Status s = WriteLimit(dirs, {"memory.max"}, v, "linux.resources.memory.limit");
    if (!s.ok()) RETURN_IF_ERROR(WriteLimit(dirs, {"memory.limit_in_bytes"}, *r.memory_limit < 0 ? "-1" : v, "linux.resources.memory.limit"));
  }
  if (r.pids_limit) {
    std::string v = *r.pids_limit <= 0 ? "max" : absl::StrCat(*r.pids_limit);
    RETURN_IF_ERROR(WriteLimit(dirs, {"pids.max"}, v, "linux.resources.pids.limit"));
  }
  if (r.cpu_shares) {
    uint64_t weight = 1 + ((*r.cpu_shares - 2) * 9999) / 262142;
    absl::Status s = WriteLimit(dirs, {"cpu.weight"}, absl::StrCat(weight), "linux.resources.cpu.shares");
    if (!s.ok()) RETURN_IF_ERROR(WriteLimit(dirs, {"cpu.shares"}, absl::StrCat(*r.cpu_shares), "linux.resources.cpu.shares"));
  }
  if (r.cpu_quota || r.cpu_period) {
    uint64_t period = r.cpu_period.value_or(100000);
    std::string quota = !r.cpu_quota || *r.cpu_quota <= 0 ? "max" : absl::StrCat(*r.cpu_quota);
    absl::Status s = WriteLimit(dirs, {"cpu.max"}, absl::StrCat(quota, " ", period), "linux.resources.cpu.quota");
    if (!s.ok()) {
      RETURN_IF_ERROR(WriteLimit(dirs, {"cpu.cfs_period_us"}, absl::StrCat(period), "linux.resources.cpu.period"));
      RETURN_IF_ERROR(WriteLimit(dirs, {"cpu.cfs_quota_us"}, quota == "max" ? "-1" : quota, "linux.resources.cpu.quota"));
    }
  }
  for (const auto& [file, value] : r.unified) {
    RETURN_IF_ERROR(Annotate(WriteExistingFile(dirs[0] + "/" + file, value), absl::StrCat("linux.resources.unified.", file)));
  }
  return absl::OkStatus();
}

absl::Status MakeCgroups(const std::vector<std::string>& dirs) {
  for (size_t i = 0; i < dirs.size(); ++i) {
    const std::string& dir = dirs[i];
    if (i == 0 && Exists(dir.substr(0, dir.find('/', 1)))) {
      // cgroup2: each level must hand its controllers down (pure cgroup2 hosts).
      std::vector<std::string> parts = absl::StrSplit(dir, '/', absl::SkipEmpty());
      std::string at;
      for (size_t p = 0; p + 1 < parts.size(); ++p) {
        at += "/" + parts[p];
        if (!Exists(at + "/cgroup.subtree_control")) continue;
        RETURN_IF_ERROR(MakeDirectories(at));
        for (const char* c : {"+memory", "+pids", "+cpu"}) WriteExistingFile(at + "/cgroup.subtree_control", c).IgnoreError();
      }
    }
    RETURN_IF_ERROR(MakeDirectories(dir));
  }
  return absl::OkStatus();
}

void RemoveCgroups(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) ::rmdir(dir.c_str());
}

std::vector<pid_t> CgroupPids(const std::vector<std::string>& dirs) {
  std::vector<pid_t> pids;
  if (dirs.empty()) return pids;
  absl::StatusOr<std::string> text = ReadFile(dirs[0] + "/cgroup.procs");
  if (!text.ok()) return pids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    pid_t pid;
    if (absl::SimpleAtoi(line, &pid)) pids.push_back(pid);
  }
  return pids;
}

// ---- hooks ----

absl::Status RunHook(const oci::Hook& hook, const std::string& state, absl::string_view kind) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return ErrnoError("pipe for a hook");
  UniqueFd read_end(in[0]), write_end(in[1]);
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  absl::StatusOr<runtime::CloneResult> child = runtime::CloneWithPidfd(0);
  if (!child.ok()) return child.status();
  if (child->pid == 0) {
    ::dup2(read_end.get(), 0);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  read_end.reset();
  (void)!::write(write_end.get(), state.data(), state.size());
  write_end.reset();
  struct pollfd p = {child->pidfd.get(), POLLIN, 0};
  int timeout_ms = hook.timeout ? *hook.timeout * 1000 : -1;
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) sys::PidfdSendSignal(child->pidfd.get(), SIGKILL, nullptr, 0);
  siginfo_t info = {};
  while (::waitid(P_PIDFD, child->pidfd.get(), &info, WEXITED) != 0 && errno == EINTR) {
  }
  if (rc == 0) return absl::DeadlineExceededError(absl::StrCat(kind, " hook ", hook.path, ": timed out after ", *hook.timeout, "s"));
  if (info.si_code != CLD_EXITED || info.si_status != 0) {
    return absl::InternalError(absl::StrCat(kind, " hook ", hook.path, ": failed with status ", info.si_status));
  }
  return absl::OkStatus();
}

absl::Status RunHooks(const std::vector<oci::Hook>& hooks, const std::string& state, absl::string_view kind) {
  for (const oci::Hook& hook : hooks) RETURN_IF_ERROR(RunHook(hook, state, kind));
  return absl::OkStatus();
}

// ---- state ----

struct State {
  std::string id;
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::string bundle;
  std::string rootfs;
  std::string created;
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> cgroups;
};

absl::StatusOr<uint64_t> StartTimeOf(pid_t pid, char* proc_state) {
  ASSIGN_OR_RETURN(std::string stat, ReadFile(absl::StrCat("/proc/", pid, "/stat")));
  size_t close = stat.rfind(')');
  if (proc_state != nullptr && close != std::string::npos && close + 2 < stat.size()) *proc_state = stat[close + 2];
  return ParseStatStartTime(stat);
}

absl::Status SaveState(const State& s) {
  json j = {{"id", s.id},          {"pid", s.pid},         {"start_time", s.start_time}, {"bundle", s.bundle},
            {"rootfs", s.rootfs},  {"created", s.created}, {"owner", s.owner},           {"annotations", s.annotations},
            {"cgroups", s.cgroups}};
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

// ---- verbs ----

struct CreateFlags {
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
  bool detach = false;
};

absl::StatusOr<CreateFlags> ParseCreateFlags(std::vector<std::string>& args, std::string* id) {
  CreateFlags f;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    size_t eq = a.find('=');
    if (absl::StartsWith(a, "--") && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto take = [&]() -> absl::StatusOr<std::string> {
      if (!value.empty()) return value;
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(a, " needs a value"));
      return args[++i];
    };
    if (a == "--bundle" || a == "-b") {
      ASSIGN_OR_RETURN(f.bundle, take());
    } else if (a == "--pid-file") {
      ASSIGN_OR_RETURN(f.pid_file, take());
    } else if (a == "--console-socket") {
      ASSIGN_OR_RETURN(f.console_socket, take());
    } else if (a == "--preserve-fds") {
      ASSIGN_OR_RETURN(std::string n, take());
      if (!absl::SimpleAtoi(n, &f.preserve_fds) || f.preserve_fds < 0) return absl::InvalidArgumentError("--preserve-fds: not a number");
    } else if (a == "--detach" || a == "-d") {
      f.detach = true;
    } else if (a == "--no-pivot" || a == "--no-new-keyring" || a == "--keep" || a == "--no-subreaper") {
      // Accepted for compatibility: corral always pivots and never touches the keyring.
    } else if (absl::StartsWith(a, "-") && a != "-") {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
    } else {
      rest.push_back(args[i]);
    }
  }
  if (rest.size() != 1) return absl::InvalidArgumentError("expected exactly one container id");
  *id = rest[0];
  if (f.bundle.empty() || f.bundle[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return ErrnoError("getcwd");
    f.bundle = f.bundle == "." ? std::string(cwd) : absl::StrCat(cwd, "/", f.bundle);
  }
  return f;
}

absl::Status WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return absl::OkStatus();
  return WriteFileAtomically(path, absl::StrCat(pid), 0644, Durability::kProcessCrashSafe);
}

// create and the first half of run. Returns the launched init.
absl::StatusOr<oci::Launched> DoCreate(const std::string& id, const CreateFlags& f, bool clone_parent, State* out) {
  RETURN_IF_ERROR(CheckId(id));
  ASSIGN_OR_RETURN(oci::Config config, oci::LoadBundle(f.bundle));
  if (config.process.terminal && f.console_socket.empty() && clone_parent) {
    return absl::InvalidArgumentError("process.terminal is set: --console-socket is required");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> cgroups, CgroupDirs(config, id));
  RETURN_IF_ERROR(MakeDirectories(g.root, 0711));
  std::string dir = StateDir(id);
  if (::mkdir(dir.c_str(), 0711) != 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat("container with id \"", id, "\" already exists"));
    return ErrnoError(absl::StrCat("mkdir ", dir));
  }
  bool done = false;
  std::vector<std::string> made_cgroups;
  struct Cleanup {
    std::function<void()> f;
    ~Cleanup() { f(); }
  } cleanup{[&] {
    if (done) return;
    RemoveCgroups(made_cgroups);
    RemoveTree(dir).IgnoreError();
  }};
  absl::StatusOr<std::string> text = ReadFile(f.bundle + "/config.json");
  if (text.ok()) WriteFileAtomically(dir + "/config.json", *text, 0600, Durability::kProcessCrashSafe).IgnoreError();
  std::string fifo = dir + "/exec.fifo";
  if (::mkfifo(fifo.c_str(), 0600) != 0) return ErrnoError(absl::StrCat("mkfifo ", fifo));
  // In a user namespace the init opens the fifo as the container's root: it must own it.
  for (const runtime::IdMapping& u : config.uid_mappings) {
    for (const runtime::IdMapping& gm : config.gid_mappings) {
      if (u.container_id == 0 && gm.container_id == 0 && ::chown(fifo.c_str(), u.host_id, gm.host_id) != 0) {
        return ErrnoError(absl::StrCat("chown ", fifo, " to the container's root"));
      }
    }
  }
  UniqueFd fifo_fd(::open(fifo.c_str(), O_PATH | O_CLOEXEC));
  if (!fifo_fd) return ErrnoError(absl::StrCat("open ", fifo));
  // With --systemd-cgroup systemd makes (and removes) the scope's directories; the limits are
  // written once the scope holds the init (Delegate=yes makes them ours).
  const bool systemd_scope = g.systemd_cgroup && !cgroups.empty();
  std::string scope_slice, scope_unit;
  if (systemd_scope) {
    std::vector<std::string> parts = absl::StrSplit(config.cgroups_path, ':');
    if (parts.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("linux.cgroupsPath: --systemd-cgroup wants slice:prefix:name, got \"", config.cgroups_path, "\""));
    }
    scope_slice = parts[0].empty() ? "system.slice" : parts[0];
    scope_unit = ScopeName(parts[1], parts[2].empty() ? id : parts[2]);
  } else if (!cgroups.empty()) {
    RETURN_IF_ERROR(MakeCgroups(cgroups));
    made_cgroups = cgroups;
    RETURN_IF_ERROR(ApplyResources(cgroups, config.resources));
  }
  State s;
  s.id = id;
  s.bundle = f.bundle;
  s.rootfs = config.root_path;
  s.created = Now();
  s.owner = OwnerName();
  s.annotations = config.annotations;
  s.cgroups = cgroups;

  oci::LaunchOptions options;
  options.exec_fifo = fifo_fd.get();
  options.clone_parent = clone_parent;
  options.preserve_fds = f.preserve_fds;
  options.before_go = [&](pid_t pid) -> absl::Status {
    if (systemd_scope) {
      const oci::Resources& r = config.resources;
      RETURN_IF_ERROR(StartSystemdScope(scope_unit, scope_slice, pid, absl::StrCat("corral-oci container ", id),
                                        r.memory_limit && *r.memory_limit > 0 ? static_cast<uint64_t>(*r.memory_limit) : 0,
                                        r.pids_limit && *r.pids_limit > 0 ? static_cast<uint64_t>(*r.pids_limit) : 0));
      RETURN_IF_ERROR(ApplyResources(cgroups, config.resources));
    } else {
      for (const std::string& cg : cgroups) {
        RETURN_IF_ERROR(Annotate(WriteExistingFile(cg + "/cgroup.procs", absl::StrCat(pid)), "join the container's cgroup"));
      }
    }
    s.pid = pid;
    std::string state = StateJson(s, "creating", false);
    RETURN_IF_ERROR(RunHooks(config.hooks.prestart, state, "prestart"));
    RETURN_IF_ERROR(RunHooks(config.hooks.create_runtime, state, "createRuntime"));
    return absl::OkStatus();
  };
  ASSIGN_OR_RETURN(oci::Launched launched, oci::LaunchInit(config, options));
  s.pid = launched.pid;
  ASSIGN_OR_RETURN(s.start_time, StartTimeOf(launched.pid, nullptr));
  auto kill = [&](absl::Status why) {
    sys::PidfdSendSignal(launched.pidfd.get(), SIGKILL, nullptr, 0);
    return why;
  };
  if (launched.pty_master && !f.console_socket.empty()) {
    absl::Status sent = oci::SendConsoleToSocket(f.console_socket, launched.pty_master.get());
    if (!sent.ok()) return kill(sent);
    launched.pty_master.reset();
  }
  if (absl::Status st = SaveState(s); !st.ok()) return kill(st);
  if (absl::Status st = WritePidFile(f.pid_file, s.pid); !st.ok()) return kill(st);
  done = true;
  *out = s;
  return launched;
}

// Opens the fifo (the init is blocked writing it) and takes its byte: the init goes on to exec.
absl::Status ReleaseInit(const State& s, int pidfd) {
  std::string fifo = StateDir(s.id) + "/exec.fifo";
  UniqueFd fd(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return ErrnoError(absl::StrCat("open ", fifo));
  struct pollfd p[2] = {{fd.get(), POLLIN, 0}, {pidfd, POLLIN, 0}};
  for (;;) {
    int rc = ::poll(p, 2, 10000);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return ErrnoError("poll the exec fifo");
    if (rc == 0) return absl::DeadlineExceededError("the container's init did not take the start within 10s");
    if (p[0].revents & POLLIN) {
      char byte;
      if (::read(fd.get(), &byte, 1) == 1) break;
    }
    if (p[1].revents & POLLIN) return absl::FailedPreconditionError("container not running: its init exited before start");
  }
  ::unlink(fifo.c_str());
  return absl::OkStatus();
}

absl::StatusOr<oci::Config> SavedConfig(const State& s) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(StateDir(s.id) + "/config.json"));
  return oci::ParseConfig(text, s.bundle);
}

int CmdCreate(std::vector<std::string> args) {
  std::string id;
  absl::StatusOr<CreateFlags> f = ParseCreateFlags(args, &id);
  if (!f.ok()) return LogError(f.status().message()), 1;
  State s;
  absl::StatusOr<oci::Launched> launched = DoCreate(id, *f, /*clone_parent=*/true, &s);
  if (!launched.ok()) return LogError(launched.status().message()), 1;
  return 0;
}

int CmdStart(const std::string& id) {
  absl::StatusOr<State> s = LoadState(id);
  if (!s.ok()) return LogError(s.status().message()), 1;
  std::string status = StatusOf(*s);
  if (status != "created") {
    return LogError(absl::StrCat("cannot start a container that is ", status, " (only a created one)")), 1;
  }
  absl::StatusOr<UniqueFd> pidfd = OpenInit(*s);
  if (!pidfd.ok()) return LogError(pidfd.status().message()), 1;
  if (absl::Status st = ReleaseInit(*s, pidfd->get()); !st.ok()) return LogError(st.message()), 1;
  absl::StatusOr<oci::Config> config = SavedConfig(*s);
  if (config.ok()) {
    absl::Status hooks = RunHooks(config->hooks.poststart, StateJson(*s, "running", false), "poststart");
    if (!hooks.ok()) LogError(hooks.message());
  }
  return 0;
}

void Delete(const State& s);

int CmdRun(std::vector<std::string> args) {
  std::string id;
  absl::StatusOr<CreateFlags> f = ParseCreateFlags(args, &id);
  if (!f.ok()) return LogError(f.status().message()), 1;
  State s;
  absl::StatusOr<oci::Launched> launched = DoCreate(id, *f, /*clone_parent=*/f->detach, &s);
  if (!launched.ok()) return LogError(launched.status().message()), 1;
  if (absl::Status st = ReleaseInit(s, launched->pidfd.get()); !st.ok()) {
    // Nothing of a run that did not start stays behind: the init, its state, its cgroups.
    LogError(st.message());
    sys::PidfdSendSignal(launched->pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t info;
    if (!f->detach) {
      while (::waitid(P_PIDFD, launched->pidfd.get(), &info, WEXITED) != 0 && errno == EINTR) {
      }
    }
    Delete(s);
    return 1;
  }
  if (f->detach) return 0;
  absl::Status exec = oci::WaitForExec(*launched);
  int code = 0;
  if (!exec.ok()) {
    LogError(exec.message());
    code = 127;
  }
  siginfo_t info = {};
  while (::waitid(P_PIDFD, launched->pidfd.get(), &info, WEXITED) != 0 && errno == EINTR) {
  }
  if (exec.ok()) code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  Delete(s);
  return code;
}

int CmdState(const std::string& id) {
  absl::StatusOr<State> s = LoadState(id);
  if (!s.ok()) return LogError(s.status().message()), 1;
  std::printf("%s\n", StateJson(*s, StatusOf(*s), true).c_str());
  return 0;
}

int CmdKill(std::vector<std::string> args) {
  bool all = false;
  std::vector<std::string> rest;
  for (const std::string& a : args) {
    if (a == "--all" || a == "-a") {
      all = true;
    } else if (absl::StartsWith(a, "-") && a.size() > 1 && !absl::ascii_isdigit(a[1])) {
      return LogError(absl::StrCat("unknown option ", a)), 1;
    } else {
      rest.push_back(a);
    }
  }
  if (rest.empty() || rest.size() > 2) return LogError("usage: corral-oci kill [--all] ID [SIGNAL]"), 1;
  int sig = rest.size() == 2 ? oci::ParseSignal(rest[1]) : SIGTERM;
  if (sig < 0) return LogError(absl::StrCat("unknown signal \"", rest[1], "\"")), 1;
  absl::StatusOr<State> s = LoadState(rest[0]);
  if (!s.ok()) return LogError(s.status().message()), 1;
  absl::StatusOr<UniqueFd> pidfd = OpenInit(*s);
  if (!pidfd.ok()) return LogError(pidfd.status().message()), 1;
  if (all) {
    for (pid_t pid : CgroupPids(s->cgroups)) {
      UniqueFd fd(sys::PidfdOpen(pid, 0));
      if (fd) sys::PidfdSendSignal(fd.get(), sig, nullptr, 0);
    }
  }
  if (sys::PidfdSendSignal(pidfd->get(), sig, nullptr, 0) != 0) {
    if (errno == ESRCH) return LogError("container not running: no such process"), 1;
    return LogError(ErrnoError(absl::StrCat("kill ", s->pid)).message()), 1;
  }
  return 0;
}

void Delete(const State& s) {
  absl::StatusOr<oci::Config> config = SavedConfig(s);
  RemoveCgroups(s.cgroups);
  if (config.ok()) {
    absl::Status hooks = RunHooks(config->hooks.poststop, StateJson(s, "stopped", false), "poststop");
    if (!hooks.ok()) LogError(hooks.message());
  }
  RemoveTree(StateDir(s.id)).IgnoreError();
}

int CmdDelete(std::vector<std::string> args) {
  bool force = false;
  std::vector<std::string> rest;
  for (const std::string& a : args) {
    if (a == "--force" || a == "-f") {
      force = true;
    } else if (absl::StartsWith(a, "-")) {
      return LogError(absl::StrCat("unknown option ", a)), 1;
    } else {
      rest.push_back(a);
    }
  }
  if (rest.size() != 1) return LogError("usage: corral-oci delete [--force] ID"), 1;
  absl::StatusOr<State> s = LoadState(rest[0]);
  if (!s.ok()) {
    if (force && absl::IsNotFound(s.status())) return 0;
    return LogError(s.status().message()), 1;
  }
  std::string status = StatusOf(*s);
  if (status != "stopped") {
    // A created container never ran the user's process: delete it without --force, as runc does.
    if (status != "created" && !force) {
      return LogError(absl::StrCat("cannot delete container \"", s->id, "\" that is ", status, ": stop it or use --force")), 1;
    }
    absl::StatusOr<UniqueFd> pidfd = OpenInit(*s);
    if (pidfd.ok()) {
      for (pid_t pid : CgroupPids(s->cgroups)) {
        UniqueFd fd(sys::PidfdOpen(pid, 0));
        if (fd) sys::PidfdSendSignal(fd.get(), SIGKILL, nullptr, 0);
      }
      sys::PidfdSendSignal(pidfd->get(), SIGKILL, nullptr, 0);
      // It is our caller's child to reap; wait until it has died (a zombie counts).
      for (int i = 0; i < 500 && StatusOf(*s) != "stopped"; ++i) ::usleep(10000);
    }
  }
  Delete(*s);
  return 0;
}

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
      {"hooks", {"prestart", "createRuntime", "poststart", "poststop"}},
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
  return LogError("pause needs a cgroup freezer: the container has no cgroup (linux.cgroupsPath)"), 1;
}

int CmdExec(std::vector<std::string> args) {
  std::string process_file, pid_file, console_socket, cwd, user;
  std::vector<std::string> env, rest;
  bool detach = false, tty = false;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string a = args[i];
    auto take = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : ""; };
    if (a == "--process" || a == "-p") {
      process_file = take();
    } else if (a == "--pid-file") {
      pid_file = take();
    } else if (a == "--console-socket") {
      console_socket = take();
    } else if (a == "--cwd") {
      cwd = take();
    } else if (a == "--env" || a == "-e") {
      env.push_back(take());
    } else if (a == "--user" || a == "-u") {
      user = take();
    } else if (a == "--detach" || a == "-d") {
      detach = true;
    } else if (a == "--tty" || a == "-t") {
      tty = true;
    } else if (a == "--preserve-fds" || a == "--cap" || a == "--apparmor" || a == "--process-label") {
      take();
    } else if (a == "--no-new-privs") {
    } else if (a == "--") {
      ++i;
      break;
    } else if (absl::StartsWith(a, "-")) {
      return LogError(absl::StrCat("exec: unknown option ", a)), 1;
    } else {
      break;
    }
  }
  for (; i < args.size(); ++i) rest.push_back(args[i]);
  if (rest.empty()) return LogError("usage: corral-oci exec [options] ID [COMMAND...]"), 1;
  absl::StatusOr<State> s = LoadState(rest[0]);
  if (!s.ok()) return LogError(s.status().message()), 1;
  absl::StatusOr<oci::Config> config = SavedConfig(*s);
  if (!config.ok()) return LogError(config.status().message()), 1;
  oci::Process process = config->process;
  if (!process_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(process_file);
    if (!text.ok()) return LogError(text.status().message()), 1;
    absl::StatusOr<oci::Process> parsed = oci::ParseProcess(*text);
    if (!parsed.ok()) return LogError(parsed.status().message()), 1;
    process = *parsed;
  } else {
    process.args.assign(rest.begin() + 1, rest.end());
    if (process.args.empty()) return LogError("exec: no command given"), 1;
    process.terminal = tty;
    if (!cwd.empty()) process.cwd = cwd;
    for (const std::string& e : env) process.env.push_back(e);
    if (!user.empty()) {
      std::vector<std::string> ug = absl::StrSplit(user, ':');
      if (!absl::SimpleAtoi(ug[0], &process.uid) || (ug.size() > 1 && !absl::SimpleAtoi(ug[1], &process.gid))) {
        return LogError(absl::StrCat("exec: --user must be UID[:GID], got \"", user, "\"")), 1;
      }
    }
  }
  absl::StatusOr<UniqueFd> pidfd = OpenInit(*s);
  if (!pidfd.ok()) return LogError(pidfd.status().message()), 1;
  runtime::AttachSpec spec;
  spec.command = process.args;
  spec.env = process.env;
  spec.cwd = process.cwd;
  spec.uid = process.uid;
  spec.gid = process.gid;
  spec.no_new_privs = process.no_new_privileges;
  std::vector<int> caps;
  uint64_t mask = process.capabilities ? process.capabilities->effective | process.capabilities->permitted : 0;
  for (int cap = 0; cap < 64; ++cap) {
    if (mask & (uint64_t{1} << cap)) caps.push_back(cap);
  }
  spec.capabilities = caps;
  std::optional<runtime::SeccompProgram> program;
  if (config->seccomp) {
    absl::StatusOr<runtime::SeccompProgram> compiled = oci::CompileOciSeccomp(*config->seccomp);
    if (!compiled.ok()) return LogError(compiled.status().message()), 1;
    program = std::move(*compiled);
    spec.seccomp_program = &*program;
    // The attached process installs its filter after dropping CAP_SYS_ADMIN, which the kernel
    // allows only under no_new_privs: a filtered exec always has it (setuid programs inside
    // it do not gain privileges).
    spec.no_new_privs = true;
  } else {
    spec.seccomp = false;
  }
  if (process.terminal) {
    if (console_socket.empty()) return LogError("exec --tty needs --console-socket"), 1;
    spec.allocate_pty = true;
    spec.controlling_tty = true;
  }
  UniqueFd cgroup_fd;
  if (!s->cgroups.empty()) {
    cgroup_fd.reset(::open(s->cgroups[0].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    spec.cgroup_fd = cgroup_fd.get();
  }
  absl::StatusOr<runtime::AttachedProcess> attached = runtime::Attach(pidfd->get(), spec);
  if (!attached.ok()) return LogError(attached.status().message()), 1;
  if (attached->pty_master) {
    absl::Status sent = oci::SendConsoleToSocket(console_socket, attached->pty_master.get());
    if (!sent.ok()) return LogError(sent.message()), 1;
    attached->pty_master.reset();
  }
  if (absl::Status st = WritePidFile(pid_file, attached->pid); !st.ok()) return LogError(st.message()), 1;
  if (detach) return 0;
  siginfo_t info = {};
  while (::waitid(P_PIDFD, attached->pidfd.get(), &info, WEXITED) != 0 && errno == EINTR) {
  }
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
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
  if (s->cgroups.empty()) return LogError("update: the container has no cgroup (linux.cgroupsPath)"), 1;
  absl::Status st = ApplyResources(s->cgroups, *res);
  if (!st.ok()) return LogError(st.message()), 1;
  return 0;
}

void Usage() {
  std::fprintf(stderr,
               "usage: corral-oci [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] [--debug]\n"
               "                  create|start|run|state|kill|delete|exec|ps|pause|resume|update|list|spec|features ...\n");
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    size_t eq = a.find('=');
    if (absl::StartsWith(a, "--") && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto take = [&]() { return !value.empty() ? value : (i + 1 < args.size() ? args[++i] : std::string()); };
    if (a == "--root") {
      g.root = take();
    } else if (a == "--log") {
      g.log = take();
    } else if (a == "--log-format") {
      std::string format = take();
      if (format != "text" && format != "json") return LogError(absl::StrCat("--log-format: text or json, got \"", format, "\"")), 1;
      g.log_json = format == "json";
    } else if (a == "--systemd-cgroup") {
      g.systemd_cgroup = true;
    } else if (a == "--debug") {
      g.debug = true;
    } else if (a == "--rootless") {
      take();
    } else if (a == "--criu") {
      take();
    } else if (a == "--version" || a == "-v" || a == "version") {
      std::printf("corral-oci version %s\nspec: %s\n", kVersion, oci::kSpecVersion);
      return 0;
    } else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      break;
    }
  }
  if (i >= args.size()) return Usage(), 1;
  std::string verb = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
  auto one_id = [&]() -> std::string { return rest.empty() ? "" : rest.back(); };
  if (verb == "create") return CmdCreate(rest);
  if (verb == "start") return CmdStart(one_id());
  if (verb == "run") return CmdRun(rest);
  if (verb == "state") return CmdState(one_id());
  if (verb == "kill") return CmdKill(rest);
  if (verb == "delete") return CmdDelete(rest);
  if (verb == "list") return CmdList(rest);
  if (verb == "spec") return CmdSpec(rest);
  if (verb == "features") return CmdFeatures();
  if (verb == "ps") return CmdPs(rest);
  if (verb == "pause") return CmdFreeze(one_id(), true);
  if (verb == "resume") return CmdFreeze(one_id(), false);
  if (verb == "exec") return CmdExec(rest);
  if (verb == "update") return CmdUpdate(rest);
  LogError(absl::StrCat("unknown command \"", verb, "\""));
  Usage();
  return 1;
}

}  // namespace
}  // namespace corral::oci_cli

int main(int argc, char** argv) { return corral::oci_cli::Main(argc, argv); }
