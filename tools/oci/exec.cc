// corral-oci exec: a process attached to a running container (pidfd, setns, its cgroup).
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
#include "runtime/oci/seccomp_cache.h"
#include "runtime/spec.h"
#include "tools/oci/commands.h"
#include "tools/oci/state.h"

namespace corral::oci_cli {

using json = nlohmann::json;
namespace oci = runtime::oci;

namespace {

struct ExecFlags {
  std::string process_file, pid_file, console_socket, cwd, user;
  std::vector<std::string> env;
  bool detach = false, tty = false;
  std::string id;
  std::vector<std::string> command;
};

absl::StatusOr<ExecFlags> ParseExecFlags(const std::vector<std::string>& args) {
  ExecFlags f;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string a = args[i];
    auto take = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : ""; };
    if (a == "--process" || a == "-p") {
      f.process_file = take();
    } else if (a == "--pid-file") {
      f.pid_file = take();
    } else if (a == "--console-socket") {
      f.console_socket = take();
    } else if (a == "--cwd") {
      f.cwd = take();
    } else if (a == "--env" || a == "-e") {
      f.env.push_back(take());
    } else if (a == "--user" || a == "-u") {
      f.user = take();
    } else if (a == "--detach" || a == "-d") {
      f.detach = true;
    } else if (a == "--tty" || a == "-t") {
      f.tty = true;
    } else if (a == "--preserve-fds" || a == "--cap" || a == "--apparmor" || a == "--process-label") {
      take();
    } else if (a == "--no-new-privs") {
    } else if (a == "--") {
      ++i;
      break;
    } else if (absl::StartsWith(a, "-")) {
      return absl::InvalidArgumentError(absl::StrCat("exec: unknown option ", a));
    } else {
      break;
    }
  }
  if (i >= args.size()) return absl::InvalidArgumentError("usage: corral-oci exec [options] ID [COMMAND...]");
  f.id = args[i];
  f.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
  return f;
}

// The process to run: --process FILE, or the container's own with the command line's changes.
absl::StatusOr<oci::Process> ExecProcess(const ExecFlags& f, const oci::Config& config) {
  if (!f.process_file.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(f.process_file));
    return oci::ParseProcess(text);
  }
  oci::Process process = config.process;
  process.args = f.command;
  if (process.args.empty()) return absl::InvalidArgumentError("exec: no command given");
  process.terminal = f.tty;
  if (!f.cwd.empty()) process.cwd = f.cwd;
  for (const std::string& e : f.env) process.env.push_back(e);
  if (!f.user.empty()) {
    std::vector<std::string> ug = absl::StrSplit(f.user, ':');
    if (!absl::SimpleAtoi(ug[0], &process.uid) || (ug.size() > 1 && !absl::SimpleAtoi(ug[1], &process.gid))) {
      return absl::InvalidArgumentError(absl::StrCat("exec: --user must be UID[:GID], got \"", f.user, "\""));
    }
  }
  return process;
}

}  // namespace

int CmdExec(std::vector<std::string> args) {
  absl::StatusOr<ExecFlags> flags = ParseExecFlags(args);
  if (!flags.ok()) return LogError(flags.status().message()), 1;
  const std::string& console_socket = flags->console_socket;
  const std::string& pid_file = flags->pid_file;
  const bool detach = flags->detach;
  absl::StatusOr<State> s = LoadState(flags->id);
  if (!s.ok()) return LogError(s.status().message()), 1;
  absl::StatusOr<oci::Config> config = SavedConfig(*s);
  if (!config.ok()) return LogError(config.status().message()), 1;
  absl::StatusOr<oci::Process> parsed = ExecProcess(*flags, *config);
  if (!parsed.ok()) return LogError(parsed.status().message()), 1;
  const oci::Process& process = *parsed;
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
    absl::StatusOr<runtime::SeccompProgram> compiled = oci::CachedOciSeccomp(*config->seccomp, SeccompCacheDir());
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

}  // namespace corral::oci_cli
