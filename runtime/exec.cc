#include "runtime/exec.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>

#include "absl/strings/str_split.h"
#include "common/syscalls.h"
#include "runtime/child_error.h"

namespace corral::runtime {

namespace {
constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}  // namespace

ExecPlan MakeExecPlan(const ExecOptions& options) {
  ExecPlan plan;
  plan.argv_storage = options.command;
  // Defaults first, then the caller's values replace them key by key; order is kept stable.
  std::vector<std::pair<std::string, std::string>> env = {
      {"PATH", kDefaultPath}, {"HOME", options.uid == 0 ? "/root" : "/"}, {"container", "corral"}};
  if (options.tty) env.emplace_back("TERM", "xterm");
  for (const std::string& kv : options.env) {
    size_t eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    bool replaced = false;
    for (auto& [k, v] : env) {
      if (k == key) {
        v = value;
        replaced = true;
      }
    }
    if (!replaced) env.emplace_back(key, value);
  }
  for (const auto& [k, v] : env) {
    plan.env_storage.push_back(k + "=" + v);
    if (k == "PATH") {
      for (absl::string_view dir : absl::StrSplit(v, ':', absl::SkipEmpty())) plan.path_dirs.emplace_back(dir);
    }
  }
  for (std::string& arg : plan.argv_storage) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  for (std::string& kv : plan.env_storage) plan.envp.push_back(kv.data());
  plan.envp.push_back(nullptr);
  plan.cwd = options.cwd.empty() ? "/" : options.cwd;
  plan.uid = options.uid;
  plan.gid = options.gid;
  plan.capabilities = MakeCapabilityPlan(options.capabilities);
  plan.no_new_privs = options.no_new_privs;
  if (options.seccomp != nullptr) plan.seccomp = *options.seccomp;
  return plan;
}

int SetGroupsInChild(uid_t uid, gid_t gid) {
  // Always, also for root: whatever started corral (an admin's shell through sudo, a service)
  // must not lend its supplementary groups (disk, adm, docker, ...) to the container. Root
  // inside gets none, anyone else their own gid only.
  // Raw syscalls, not glibc's wrappers: those make every thread of the process change its
  // credentials (signalling the threads on glibc's list, under its locks), and the list in a
  // child cloned from a threaded manager names threads of the parent.
  gid_t groups[1] = {gid};
  size_t count = uid == 0 ? 0 : 1;
  if (::syscall(SYS_setgroups, count, groups) == 0) return 0;
  int err = errno;
  // In a user namespace whose /proc/PID/setgroups says "deny" (written by an unprivileged
  // creator) setgroups always fails with EPERM. The groups we hold there are the creator's and
  // cannot be changed: fine when they already are what we want, refused otherwise, so a
  // container never runs with groups it was not meant to have.
  if (err != EPERM) return err;
  gid_t held[2];
  long n = ::syscall(SYS_getgroups, 2, held);
  if (n == 0 || (n == 1 && count == 1 && held[0] == gid)) return 0;
  return err;
}

void ResetSignalsInChild() {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);  // EINVAL for the few numbers glibc reserves: harmless
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void ExecInChild(const ExecPlan& plan, int error_fd) {
  ResetSignalsInChild();
  if (DropPrivilegesInChild(plan, error_fd)) ExecPreparedInChild(plan, error_fd);
}

namespace {

// Void with `dropped` set at the end, so each failing step can `return ReportChildError(...)`.
void DropPrivileges(const ExecPlan& plan, int error_fd, bool* dropped) {
  const char* step = nullptr;
  if (int err = SetGroupsInChild(plan.uid, plan.gid); err != 0) return ReportChildError(error_fd, "setgroups", "", err);
  if (::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) {
    return ReportChildError(error_fd, "setresgid", "", errno);
  }
  if (int err = ApplyCapabilities(plan.capabilities, &step); err != 0) {
    return ReportChildError(error_fd, step, "", err);
  }
  if (plan.uid != 0 && ::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) {  // raw: see SetGroupsInChild
    return ReportChildError(error_fd, "setresuid", "", errno);
  }
  // A change of euid/egid (setresgid, setresuid) resets dumpability to fs.suid_dumpable, which
  // a host may set to 1: what runs here until its execve is still a copy of the manager (the
  // tiny init for ever), so it must stay out of reach of the container's ptrace and /proc.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return ReportChildError(error_fd, "prctl(PR_SET_DUMPABLE, 0)", "", errno);
  // The credential changes above cleared the parent-death signal (commit_creds does when the
  // euid or egid changes): bound again, before seccomp could refuse the prctl.
  if (plan.death_signal != 0) {
    if (int err = BindDeathSignalInChild(plan.death_signal, error_fd); err != 0) {
      return ReportChildError(error_fd, "prctl(PR_SET_PDEATHSIG)", "", err);
    }
  }
  if (plan.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return ReportChildError(error_fd, "prctl(PR_SET_NO_NEW_PRIVS)", "", errno);
  }
  if (plan.seccomp) {
    if (int err = InstallSeccompProgram(*plan.seccomp); err != 0) {
      return ReportChildError(error_fd, "install seccomp filter", "", err);
    }
  }
  *dropped = true;
}

}  // namespace

int BindDeathSignalInChild(int signal, int parent_fd) {
  if (::prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0) return errno;
  // From here on the parent's death sends the signal; whether it died before is told by the
  // socket it holds the other end of.
  struct pollfd parent = {parent_fd, POLLIN | POLLRDHUP, 0};
  int ready;
  do {
    ready = ::poll(&parent, 1, 0);
  } while (ready < 0 && errno == EINTR);
  if (ready > 0 && (parent.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0) ::_exit(125);
  return 0;
}

bool DropPrivilegesInChild(const ExecPlan& plan, int error_fd) {
  bool dropped = false;
  DropPrivileges(plan, error_fd, &dropped);
  return dropped;
}

void ExecPreparedInChild(const ExecPlan& plan, int error_fd) {
  if (::chdir(plan.cwd.c_str()) != 0) return ReportChildError(error_fd, "chdir", plan.cwd.c_str(), errno);
  // Nothing the manager had open may leak into the container. CLOEXEC rather than close, so
  // error_fd stays usable until execve succeeds and closes it, which the parent sees as EOF.
  if (sys::CloseRange(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    return ReportChildError(error_fd, "close_range", "", errno);
  }
  const char* file = plan.argv[0];
  bool has_slash = false;
  for (const char* p = file; *p != '\0'; ++p) has_slash |= *p == '/';
  if (has_slash) {
    ::execve(file, plan.argv.data(), plan.envp.data());
    return ReportChildError(error_fd, "exec", file, errno, /*is_exec=*/true);
  }
  // execvpe searches the caller's PATH, not the container's: search ourselves.
  int saved = ENOENT;
  char candidate[4096];
  for (const std::string& dir : plan.path_dirs) {
    size_t n = 0;
    for (char c : dir) {
      if (n + 2 >= sizeof(candidate)) break;
      candidate[n++] = c;
    }
    candidate[n++] = '/';
    for (const char* p = file; *p != '\0' && n + 1 < sizeof(candidate); ++p) candidate[n++] = *p;
    candidate[n] = '\0';
    ::execve(candidate, plan.argv.data(), plan.envp.data());
    if (errno != ENOENT && errno != ENOTDIR) saved = errno;
  }
  ReportChildError(error_fd, "exec", file, saved, /*is_exec=*/true);
}

}  // namespace corral::runtime
