// corral-oci create, start, run, state, kill and delete.
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
#include "tools/oci/hooks.h"
#include "tools/oci/machined.h"
#include "tools/oci/state.h"
#include "tools/oci/systemd_scope.h"

namespace corral::oci_cli {

using json = nlohmann::json;
namespace oci = runtime::oci;

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
// The exec fifo the init blocks on until `start`, O_PATH. In a user namespace the init opens
// it as the container's root: it must own it.
absl::StatusOr<UniqueFd> MakeExecFifo(const std::string& dir, const oci::Config& config) {
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
  return fifo_fd;
}

// The init, just cloned, into its cgroups: the transient scope `scope_unit` (--systemd-cgroup)
// or the cgroupfs directories; its limits, then the device filter.
absl::Status PlaceInit(pid_t pid, const std::string& id, const oci::Config& config, const std::vector<std::string>& cgroups,
                       const std::string& scope_unit, const std::string& scope_slice) {
  const bool systemd_scope = !scope_unit.empty();
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
  // Before the init goes on to make its /dev: nothing it opens escapes the filter.
  if (!cgroups.empty()) RETURN_IF_ERROR(ApplyDeviceRules(cgroups, DeviceRules(config, config.resources.devices)));
  return absl::OkStatus();
}

// The scope's slice and name (--systemd-cgroup), or the cgroupfs directories made and limited.
absl::Status PrepareCgroups(const oci::Config& config, const std::string& id, const std::vector<std::string>& cgroups,
                            bool systemd_scope, std::string* scope_slice, std::string* scope_unit,
                            std::vector<std::string>* made_cgroups) {
  if (systemd_scope) {
    const std::string path = CgroupsPath(config, id);
    std::vector<std::string> parts = absl::StrSplit(path, ':');
    if (parts.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("linux.cgroupsPath: --systemd-cgroup wants slice:prefix:name, got \"", path, "\""));
    }
    *scope_slice = parts[0].empty() ? "system.slice" : parts[0];
    *scope_unit = ScopeName(parts[1], parts[2].empty() ? id : parts[2]);
  } else if (!cgroups.empty()) {
    RETURN_IF_ERROR(MakeCgroups(cgroups, made_cgroups));
    RETURN_IF_ERROR(ApplyResources(cgroups, config.resources));
  }
  return absl::OkStatus();
}

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
  ASSIGN_OR_RETURN(UniqueFd fifo_fd, MakeExecFifo(dir, config));
  // With --systemd-cgroup systemd makes (and removes) the scope's directories; the limits are
  // written once the scope holds the init (Delegate=yes makes them ours).
  const bool systemd_scope = g.systemd_cgroup && !cgroups.empty();
  std::string scope_slice, scope_unit;
  RETURN_IF_ERROR(PrepareCgroups(config, id, cgroups, systemd_scope, &scope_slice, &scope_unit, &made_cgroups));
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
  options.seccomp_cache_dir = SeccompCacheDir();
  options.before_go = [&](pid_t pid) -> absl::Status {
    RETURN_IF_ERROR(PlaceInit(pid, id, config, cgroups, systemd_scope ? scope_unit : "", scope_slice));
    s.pid = pid;
    std::string state = StateJson(s, "creating", false);
    RETURN_IF_ERROR(RunHooks(config.hooks.prestart, state, "prestart"));
    RETURN_IF_ERROR(RunHooks(config.hooks.create_runtime, state, "createRuntime"));
    return absl::OkStatus();
  };
  // createContainer and startContainer (run by the init, in the container) read the same.
  options.container_hook_state = [&](pid_t pid) {
    s.pid = pid;
    return StateJson(s, "creating", false);
  };
  ASSIGN_OR_RETURN(oci::Launched launched, oci::LaunchInit(config, options));
  s.pid = launched.pid;
  ASSIGN_OR_RETURN(s.start_time, StartTimeOf(launched.pid, nullptr));
  auto kill = [&](absl::Status why) {
    if (!s.machine.empty()) UnregisterMachine(s.machine).IgnoreError();
    sys::PidfdSendSignal(launched.pidfd.get(), SIGKILL, nullptr, 0);
    return why;
  };
  if (launched.pty_master && !f.console_socket.empty()) {
    absl::Status sent = oci::SendConsoleToSocket(f.console_socket, launched.pty_master.get());
    if (!sent.ok()) return kill(sent);
    launched.pty_master.reset();
  }
  if (g.register_machine || WantsMachined(config.annotations)) {
    // Once the init is in its cgroup (machined takes the unit from it) and before anyone
    // can see the container: a refusal leaves nothing behind.
    if (absl::Status st = RegisterMachine(MachineName(id), s.pid, s.rootfs); !st.ok()) return kill(st);
    s.machine = MachineName(id);
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
  if (!s.machine.empty()) {
    absl::Status st = UnregisterMachine(s.machine);
    if (!st.ok()) LogError(st.message());
  }
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

}  // namespace corral::oci_cli
