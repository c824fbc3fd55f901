// corral-oci hooks: each run with the state on stdin, killed at its timeout.
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
#include "tools/oci/hooks.h"

namespace corral::oci_cli {

using json = nlohmann::json;
namespace oci = runtime::oci;

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
  // A hook that exits without reading its stdin must not kill us with SIGPIPE: ignored for
  // the write only (the hook, cloned before, keeps the default).
  struct sigaction ignore = {}, saved = {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &saved);
  (void)!::write(write_end.get(), state.data(), state.size());
  ::sigaction(SIGPIPE, &saved, nullptr);
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

}  // namespace corral::oci_cli
