#include "runtime/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fd_passing.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/cgroup/v1_joins.h"
#include "runtime/child_error.h"
#include "runtime/clone.h"
#include "runtime/spec.h"

namespace corral::runtime {

namespace {

// Where the helper keeps what it needs once it has closed everything else.
constexpr int kReportFd = 3;     // the report socket (SOCK_SEQPACKET), also the process's
constexpr int kContainerFd = 4;  // the container leader's pidfd
constexpr int kCgroupFd = 5;     // the payload cgroup2 directory, when given
// The helper first duplicates the fds it keeps at or above this number, so moving them down to
// 3..5 never overwrites one not yet moved.
constexpr int kStagingFd = 6;

// The helper's news, told apart from a ChildError (an error of the helper or of the process)
// by its size on the SOCK_SEQPACKET socket.
struct HelperReport {
  int kind = 0;
  pid_t pid = 0;  // kStarted: the process, in the caller's PID namespace
};
constexpr int kReportPty = 1;      // carries the pty master (SCM_RIGHTS)
constexpr int kReportStarted = 2;  // carries the process's pidfd (SCM_RIGHTS)
constexpr int kReportHelper = 3;   // a helper forked for another process: its own pidfd
static_assert(sizeof(HelperReport) != sizeof(ChildError));
constexpr int kMaxReportRecords = 3;  // a pty, the start, one error (and kReportHelper first)

// The leader's pid in our namespace, from its pidfd's fdinfo.
absl::StatusOr<pid_t> PidOfPidfd(int pidfd) {
  absl::StatusOr<std::string> fdinfo = ReadFile(absl::StrCat("/proc/self/fdinfo/", pidfd));
  if (!fdinfo.ok()) return Annotate(fdinfo.status(), "read the container pidfd's fdinfo");
  for (absl::string_view line : absl::StrSplit(*fdinfo, '\n')) {
    long pid = 0;
    if (absl::ConsumePrefix(&line, "Pid:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &pid) && pid > 0) {
      return static_cast<pid_t>(pid);
    }
  }
  return absl::NotFoundError("the container is not running (its pidfd has no live process)");
}

// True when the process `pid` is in a different user namespace than we are.
absl::StatusOr<bool> InOtherUserNamespace(pid_t pid) {
  struct stat ours, theirs;
  if (::stat("/proc/self/ns/user", &ours) != 0) return ErrnoError("stat /proc/self/ns/user");
  std::string ns = absl::StrCat("/proc/", pid, "/ns/user");
  if (::stat(ns.c_str(), &theirs) != 0) return ErrnoError(absl::StrCat("stat ", ns));
  return ours.st_ino != theirs.st_ino || ours.st_dev != theirs.st_dev;
}

// The host id that id 0 of a user namespace maps to (from its uid_map or gid_map), or -1.
long HostIdOfRoot(const std::string& map_file) {
  absl::StatusOr<std::string> map = ReadFile(map_file);
  if (!map.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(*map, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    long inside = 0, outside = 0;
    if (f.size() == 3 && absl::SimpleAtoi(f[0], &inside) && inside == 0 && absl::SimpleAtoi(f[1], &outside)) {
      return outside;
    }
  }
  return -1;
}

// Everything the helper and the process need, prepared before the fork (they allocate nothing).
struct HelperPlan {
  int stdio[3] = {-1, -1, -1};
  int report_fd = -1;
  int container_pidfd = -1;
  int cgroup_fd = -1;
  int v1_joins[kMaxV1Joins] = {};
  int v1_count = 0;
  bool other_userns = false;
  // The host ids of the container's root, when it has a user namespace: the -t pty's slave is
  // created as the fsuid/fsgid of whoever opens ptmx, so the helper opens it as these.
  uid_t pty_owner_uid = static_cast<uid_t>(-1);
  gid_t pty_owner_gid = static_cast<gid_t>(-1);
  bool allocate_pty = false;
  bool controlling_tty = false;
  // Forked for another process (ForkAttachHelperForParent): the helper's first record is its
  // own pidfd, for the process that watches it.
  bool announce = false;
  ExecPlan exec;
};


[[noreturn]] void Fail(int fd, const char* step, int err, const char* path = "") {
  ReportChildError(fd, step, path, err);
  ::_exit(125);
}

// In the helper, after it joined the container's mount namespace: a new pty on the container's
// own devpts. /dev/pts is reached from the container's root without following any symlink (a
// container controls its /dev/ptmx and /dev/pts), must be a devpts, and ptmx is opened from it
// without leaving that mount; so nothing but a devpts multiplexer of the container is opened.
void OpenPtyInside(int fd, int* master_out, int* slave_out) {
  struct open_how how = {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int pts = sys::Openat2(AT_FDCWD, "/dev/pts", &how, sizeof(how));
  if (pts < 0) Fail(fd, "open the container's /dev/pts (no symlinks)", errno);
  struct statfs fs;
  if (::fstatfs(pts, &fs) != 0) Fail(fd, "fstatfs /dev/pts", errno);
  if (fs.f_type != DEVPTS_SUPER_MAGIC) Fail(fd, "the container's /dev/pts is not a devpts mount", EXDEV);
  how = {};
  how.flags = O_RDWR | O_NOCTTY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV | RESOLVE_BENEATH;
  int master = sys::Openat2(pts, "ptmx", &how, sizeof(how));
  if (master < 0) Fail(fd, "open /dev/pts/ptmx in the container", errno);
  ::close(pts);
  struct stat st;
  if (::fstatfs(master, &fs) != 0 || ::fstat(master, &st) != 0) Fail(fd, "stat /dev/pts/ptmx", errno);
  if (fs.f_type != DEVPTS_SUPER_MAGIC || !S_ISCHR(st.st_mode) || ::major(st.st_rdev) != 5 || ::minor(st.st_rdev) != 2) {
    Fail(fd, "the container's /dev/pts/ptmx is not the devpts multiplexer", ENOTTY);
  }
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) != 0) Fail(fd, "unlock the container pty", errno);
  int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) Fail(fd, "open the container pty's slave (TIOCGPTPEER)", errno);
  *master_out = master;
  *slave_out = slave;
}

// The visible process, born in the container's PID namespace and payload cgroup: joins the
// cgroup (and user) namespace, closes what the helper still held, becomes the command.
[[noreturn]] void ProcessMain(const HelperPlan& plan) {
  // Born into the payload cgroup (CLONE_INTO_CGROUP) sharing the helper's fd table, which
  // holds that cgroup's directory, a directory of the host's cgroup fs whose ".." leads to the
  // host's / (runc's CVE-2024-21626). The helper closes it there as soon as the clone returns,
  // so even born frozen (a container that froze its cgroup) we never hold it while it can see
  // us; we close it too, in case we ran first, and only then take a table of our own. (Not
  // dumpable as well: /proc/PID/fd and pidfd_getfd would need CAP_SYS_PTRACE over the host.)
  if (plan.cgroup_fd >= 0) {
    ::close(kCgroupFd);
    if (::unshare(CLONE_FILES) != 0) Fail(kReportFd, "unshare the fd table from the attach helper", errno);
  }
  int flags = CLONE_NEWCGROUP | (plan.other_userns ? CLONE_NEWUSER : 0);
  if (::setns(kContainerFd, flags) != 0) Fail(kReportFd, "setns into the container's cgroup/user namespace", errno);
  // Joining a user namespace keeps our (host) uid 0, unmapped there: become its root, which
  // maps to the container's unprivileged range.
  if (plan.other_userns && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)) {
    Fail(kReportFd, "become root of the container's user namespace", errno);
  }
  // That credential change reset dumpability to fs.suid_dumpable (1 on some hosts), and the
  // container's root is now our uid: not dumpable again until the execve.
  if (plan.other_userns && ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) Fail(kReportFd, "prctl(PR_SET_DUMPABLE, 0)", errno);
  if (sys::CloseRange(kContainerFd, ~0U, 0) != 0) Fail(kReportFd, "close_range", errno);
  if (plan.allocate_pty || plan.controlling_tty) {
    ::setsid();
    if (::ioctl(0, TIOCSCTTY, 0) != 0) Fail(kReportFd, "make the terminal our controlling terminal", errno);
  }
  ExecInChild(plan.exec, kReportFd);
  ::_exit(127);
}

long CloneProcess(int* pidfd, bool into_cgroup) {
  struct clone_args args = {};
  // CLONE_PARENT: the process is the caller's child (not ours: we exit at once), so the
  // caller waits for it through the pidfd we pass on. exit_signal must be 0 with it; the
  // kernel takes ours (SIGCHLD).
  args.flags = CLONE_PARENT | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  // Born in the payload cgroup rather than moved there: a move (a cgroup.procs write) takes
  // the cgroup threadgroup lock for writing, which waits for an RCU grace period whenever no
  // move happened just before, 8 ms and more on a small VM: the largest part of an exec.
  if (into_cgroup) {
    args.flags |= CLONE_INTO_CGROUP | CLONE_FILES;  // CLONE_FILES: see ProcessMain
    args.cgroup = kCgroupFd;
  }
  return sys::Clone3(&args, sizeof(args));
}

// Keeps stdio, the report socket, the container pidfd and the cgroup at fixed numbers and
// really closes everything else the caller had open (CLOEXEC alone would leave it reachable
// until execve, which a container can delay). Fails on `fd`, the report socket as it was.
void KeepOnlyHelperFds(const HelperPlan& plan, int fd) {
  int sources[6] = {plan.stdio[0], plan.stdio[1], plan.stdio[2], plan.report_fd, plan.container_pidfd, plan.cgroup_fd};
  int staged[6];
  for (int i = 0; i < 6; ++i) {
    staged[i] = sources[i] >= 0 ? ::fcntl(sources[i], F_DUPFD, kStagingFd) : -1;
    if (sources[i] >= 0 && staged[i] < 0) Fail(fd, "dup the fds to keep", errno);
  }
  for (int i = 0; i < 6; ++i) {
    if (staged[i] >= 0 && ::dup2(staged[i], i) < 0) Fail(fd, "dup2 the fds to keep", errno);
  }
  fd = kReportFd;
  if (sys::CloseRange(plan.cgroup_fd >= 0 ? kCgroupFd + 1 : kCgroupFd, ~0U, 0) != 0) Fail(fd, "close_range", errno);
}

// Inside the container's mount namespace: a pty of its devpts (owned by the process's user),
// the master to the caller, the slave as our stdio, which the process inherits.
void PassPtyFromInside(const HelperPlan& plan, int fd) {
  int master = -1, slave = -1;
  if (plan.pty_owner_uid != static_cast<uid_t>(-1)) {
    ::setfsgid(plan.pty_owner_gid);
    ::setfsuid(plan.pty_owner_uid);
  }
  OpenPtyInside(fd, &master, &slave);
  ::setfsuid(0);
  ::setfsgid(0);
  // An fsuid change resets dumpability to fs.suid_dumpable: not dumpable again.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) Fail(fd, "prctl(PR_SET_DUMPABLE, 0)", errno);
  HelperReport report;
  report.kind = kReportPty;
  if (int err = SendWithFd(fd, &report, sizeof(report), master); err != 0) Fail(fd, "pass the pty master", err);
  ::close(master);
  for (int target = 0; target < 3; ++target) {
    if (::dup2(slave, target) < 0) Fail(fd, "dup2 the pty slave", errno);
  }
  ::close(slave);
}

// The helper, a fork of the caller in the caller's PID namespace, where the container cannot
// see it. Never returns.
[[noreturn]] void HelperMain(const HelperPlan& plan) {
  int fd = plan.report_fd;
  // Not dumpable from here on (and the process inherits it until its execve): nobody without
  // CAP_SYS_PTRACE over the host may open /proc/PID/fd, /proc/PID/root or pidfd_getfd us.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) Fail(fd, "prctl(PR_SET_DUMPABLE, 0)", errno);
  if (plan.announce) {
    // Whoever watches the report (our parent, not the process that forked us) must be able
    // to kill and reap us: the first record is our pidfd.
    int self = sys::PidfdOpen(::getpid(), 0);
    if (self < 0) Fail(fd, "pidfd_open of the attach helper", errno);
    HelperReport report;
    report.kind = kReportHelper;
    report.pid = ::getpid();
    if (int err = SendWithFd(fd, &report, sizeof(report), self); err != 0) Fail(fd, "announce the attach helper", err);
    ::close(self);
  }
  // v1 hierarchies first, while the host's cgroup fs is ours to write: the process inherits
  // the leader's memory/pids/devices/... cgroups from us (never its freezer: see
  // JoinableV1Hierarchy).
  for (int i = 0; i < plan.v1_count; ++i) {
    if (::write(plan.v1_joins[i], "0", 1) != 1) Fail(fd, "join the container's cgroup in a v1 hierarchy", errno);
  }
  KeepOnlyHelperFds(plan, fd);
  fd = kReportFd;
  // The caller's supplementary groups stay on the host (ExecInChild sets the user's own).
  if (::setgroups(0, nullptr) != 0) Fail(fd, "setgroups", errno);
  // Every namespace but PID, cgroup and user: the process is born into PID (it must be a new
  // process), joins cgroup and user itself (our move into the payload cgroup is checked
  // against the cgroup namespace and credentials of the host).
  if (::setns(kContainerFd, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
    Fail(fd, "setns into the container's mount/net/ipc/uts namespaces", errno);
  }
  if (::chdir("/") != 0) Fail(fd, "chdir to the container's root", errno);
  if (plan.allocate_pty) PassPtyFromInside(plan, fd);
  if (::setns(kContainerFd, CLONE_NEWPID) != 0) Fail(fd, "setns into the container's PID namespace", errno);
  // We stay in our own cgroup2 cgroup; the process is born in the payload (see CloneProcess,
  // and ProcessMain for the fd it is born with).
  int pidfd = -1;
  long pid = CloneProcess(&pidfd, plan.cgroup_fd >= 0);
  if (pid < 0) Fail(fd, "clone3 into the container and its payload cgroup", errno);
  if (pid == 0) ProcessMain(plan);
  // Out of the fd table we share with the process, before it could ever run (ProcessMain).
  if (plan.cgroup_fd >= 0) ::close(kCgroupFd);
  HelperReport report;
  report.kind = kReportStarted;
  report.pid = static_cast<pid_t>(pid);
  if (int err = SendWithFd(fd, &report, sizeof(report), pidfd); err != 0) {
    ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    Fail(fd, "pass the process's pidfd", err);
  }
  ::_exit(0);
}

// Kills the process of `pidfd` and reaps it once it has ended, waiting at most kReapWaitMs: a
// process a container keeps from ending (in a cgroup v1 freezer it froze, which SIGKILL does not
// thaw) is left unreaped rather than holding the caller's event loop.
constexpr int kReapWaitMs = 500;
void KillAndReap(UniqueFd& pidfd) {
  if (!pidfd) return;
  sys::PidfdSendSignal(pidfd.get(), SIGKILL, nullptr, 0);
  pollfd ended = {pidfd.get(), POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&ended, 1, kReapWaitMs);
  } while (ready < 0 && errno == EINTR);
  siginfo_t info;
  while (ready > 0 && ::waitid(P_PIDFD, pidfd.get(), &info, WEXITED) != 0 && errno == EINTR) {
  }
  pidfd.reset();
}

}  // namespace

void KillAndReapAttached(AttachedProcess& process) { KillAndReap(process.pidfd); }

namespace {

// What a helper needs that must stay open until it is forked.
struct PreparedHelper {
  HelperPlan plan;
  std::vector<UniqueFd> v1_joins;
};

absl::Status PrepareHelper(int container_pidfd, const AttachSpec& spec, int report_fd, PreparedHelper* out) {
  if (spec.command.empty()) return absl::InvalidArgumentError("attach: no command given");
  for (const std::string& kv : spec.env) {
    if (kv.find('=') == std::string::npos || kv[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat("attach: environment entry \"", kv, "\" is not KEY=VALUE"));
    }
  }
  if (spec.cwd.empty() || spec.cwd[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("attach: working directory \"", spec.cwd, "\" is not absolute"));
  }
  ASSIGN_OR_RETURN(pid_t leader, PidOfPidfd(container_pidfd));
  ASSIGN_OR_RETURN(bool other_userns, InOtherUserNamespace(leader));
  if (spec.join_v1_cgroups) {
    ASSIGN_OR_RETURN(out->v1_joins, OpenV1CgroupJoins(leader));
  }

  ExecOptions exec_options;
  exec_options.command = spec.command;
  exec_options.env = spec.env;
  exec_options.cwd = spec.cwd;
  exec_options.uid = spec.uid;
  exec_options.gid = spec.gid;
  exec_options.tty = spec.controlling_tty || spec.allocate_pty;
  exec_options.capabilities = spec.capabilities ? *spec.capabilities : DefaultCapabilities();
  exec_options.no_new_privs = spec.no_new_privs;
  // The profile follows the capabilities kept (SeccompProgramFor), unless the caller gave one.
  if (spec.seccomp) {
    exec_options.seccomp =
        spec.seccomp_program != nullptr ? spec.seccomp_program : &SeccompProgramFor(exec_options.capabilities);
  }

  HelperPlan& plan = out->plan;
  if (!spec.allocate_pty) {
    plan.stdio[0] = spec.stdin_fd;
    plan.stdio[1] = spec.stdout_fd;
    plan.stdio[2] = spec.stderr_fd;
  }
  plan.report_fd = report_fd;
  plan.container_pidfd = container_pidfd;
  plan.cgroup_fd = spec.cgroup_fd;
  for (const UniqueFd& join : out->v1_joins) plan.v1_joins[plan.v1_count++] = join.get();
  plan.other_userns = other_userns;
  if (other_userns && spec.allocate_pty) {
    plan.pty_owner_uid = static_cast<uid_t>(HostIdOfRoot(absl::StrCat("/proc/", leader, "/uid_map")));
    plan.pty_owner_gid = static_cast<gid_t>(HostIdOfRoot(absl::StrCat("/proc/", leader, "/gid_map")));
    if (plan.pty_owner_gid == static_cast<gid_t>(-1)) plan.pty_owner_uid = static_cast<uid_t>(-1);
  }
  plan.allocate_pty = spec.allocate_pty;
  plan.controlling_tty = spec.controlling_tty;
  plan.exec = MakeExecPlan(exec_options);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AttachInProgress>> AttachInProgress::Start(int container_pidfd, const AttachSpec& spec) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return ErrnoError("socketpair for the attach report");
  }
  std::unique_ptr<AttachInProgress> attach(new AttachInProgress);
  attach->report_.reset(pair[0]);
  UniqueFd child_end(pair[1]);
  PreparedHelper prepared;
  RETURN_IF_ERROR(PrepareHelper(container_pidfd, spec, child_end.get(), &prepared));
  ASSIGN_OR_RETURN(CloneResult cloned, CloneWithPidfd(0));
  if (cloned.pid == 0) HelperMain(prepared.plan);
  attach->helper_pid_ = cloned.pid;
  attach->helper_pidfd_ = std::move(cloned.pidfd);
  return attach;
}

std::unique_ptr<AttachInProgress> AttachInProgress::Expect(UniqueFd report) {
  std::unique_ptr<AttachInProgress> attach(new AttachInProgress);
  attach->report_ = std::move(report);
  attach->expect_helper_ = true;
  return attach;
}

absl::Status ForkAttachHelperForParent(int container_pidfd, const AttachSpec& spec, int report_fd) {
  PreparedHelper prepared;
  RETURN_IF_ERROR(PrepareHelper(container_pidfd, spec, report_fd, &prepared));
  prepared.plan.announce = true;
  struct clone_args args = {};
  args.flags = CLONE_PARENT;  // exit_signal 0: the kernel gives our parent our own exit signal
  long pid = sys::Clone3(&args, sizeof(args));
  if (pid < 0) return ErrnoError("clone3 the attach helper (CLONE_PARENT)");
  if (pid == 0) HelperMain(prepared.plan);
  return absl::OkStatus();
}

AttachInProgress::~AttachInProgress() {
  if (!done_) {
    KillAndReap(process_.pidfd);
    KillAndReap(helper_pidfd_);
  } else {
    KillAndReap(process_.pidfd);  // a result nobody took
  }
}

void AttachInProgress::Abort(absl::Status why) {
  if (done_ || !abort_.ok()) return;
  abort_ = std::move(why);
  if (helper_pidfd_) sys::PidfdSendSignal(helper_pidfd_.get(), SIGKILL, nullptr, 0);
  if (process_.pidfd) sys::PidfdSendSignal(process_.pidfd.get(), SIGKILL, nullptr, 0);
  // EOF ends the attach; whoever may hold a copy of the process's end (pidfd_getfd by a
  // container with CAP_SYS_PTRACE over it) must not delay it: shut our end, so what is queued
  // is still read and then recvmsg says 0, and their sends fail.
  // A helper forked elsewhere that has not announced itself yet: nobody but it and its forker
  // holds the other end (no process exists), and its announcement must still reach us so
  // that we can kill and reap it; the shutdown waits for that record (OnReadable).
  if (expect_helper_ && !helper_pidfd_) return;
  if (report_) ::shutdown(report_.get(), SHUT_RDWR);
}

bool AttachInProgress::OnReadable() {
  if (done_) return true;
  for (;;) {
    // Room for the larger record and one byte more, so an oversized one shows as such.
    alignas(ChildError) char data[sizeof(ChildError) + sizeof(HelperReport) + 1];
    union {
      cmsghdr header;
      char buffer[CMSG_SPACE(sizeof(int))];
    } control;
    iovec iov = {data, sizeof(data)};
    msghdr message = {};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof(control.buffer);
    ssize_t n = ::recvmsg(report_.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n < 0) {
      Finish(ErrnoError("read the attach report"));
      return true;
    }
    UniqueFd passed;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        __builtin_memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        passed.reset(fd);
      }
    }
    if (n == 0) {
      FinishAtEnd();
      return true;
    }
    // The helper and the process send at most a pty, a start and one error between them. More
    // comes from someone else holding the process's end: end the attach (it kills both) rather
    // than read on, which a sender faster than us would keep doing for ever.
    if (++records_ > kMaxReportRecords + (expect_helper_ ? 1 : 0)) {
      Finish(absl::InternalError("attach: more records on the report socket than the helper sends "
                                 "(something in the container holds it); the command was killed"));
      return true;
    }
    TakeRecord(data, static_cast<size_t>(n), std::move(passed));
  }
}

void AttachInProgress::FinishAtEnd() {
  // Every copy of the socket is closed: the helper is gone and the process has exec'd
  // (close-on-exec) or died.
  if (!abort_.ok()) {
    Finish(abort_);
  } else if (!status_.ok()) {
    Finish(status_);
  } else if (expect_helper_ && !helper_pidfd_) {
    // The request went out but no helper ever announced itself: its forker (the
    // supervisor) dropped the request, or died with it.
    Finish(absl::UnavailableError("the container's supervisor did not start the exec (it went away or dropped "
                                  "the request); nothing was started"));
  } else if (!process_.pidfd) {
    Finish(absl::InternalError("the attach helper ended without a report"));
  } else {
    Finish(absl::OkStatus());
  }
}

void AttachInProgress::TakeRecord(const char* data, size_t n, UniqueFd passed) {
  HelperReport report;
  if (n == sizeof(HelperReport)) __builtin_memcpy(&report, data, sizeof(report));
  if (n == sizeof(HelperReport) && report.kind == kReportHelper && passed && expect_helper_ && !helper_pidfd_ &&
      records_ == 1) {
    helper_pid_ = report.pid;
    helper_pidfd_ = std::move(passed);
    if (!abort_.ok()) {
      sys::PidfdSendSignal(helper_pidfd_.get(), SIGKILL, nullptr, 0);
      ::shutdown(report_.get(), SHUT_RDWR);
    }
  } else if (n == sizeof(HelperReport) && report.kind == kReportPty && passed) {
    process_.pty_master = std::move(passed);
  } else if (n == sizeof(HelperReport) && report.kind == kReportStarted && passed) {
    process_.pid = report.pid;
    process_.pidfd = std::move(passed);
    if (!abort_.ok()) sys::PidfdSendSignal(process_.pidfd.get(), SIGKILL, nullptr, 0);
  } else if (n == sizeof(ChildError)) {
    ChildError record;
    __builtin_memcpy(&record, data, sizeof(record));
    absl::Status status = ChildErrorToStatus(record);
    if (status_.ok()) status_ = IsExecFailure(status) ? status : Annotate(status, "attach");
  } else if (status_.ok()) {
    status_ = absl::InternalError("truncated report from the attach helper");
  }
}

void AttachInProgress::Finish(absl::Status status) {
  done_ = true;
  status_ = std::move(status);
  // After EOF without an abort the helper has closed its end, so it is exiting: this wait is
  // short. On any other end (an abort shuts the socket, so EOF says nothing of the helper) it
  // may still be alive: kill it, and wait a bounded time.
  if (!status_.ok()) KillAndReap(helper_pidfd_);
  if (helper_pidfd_) {
    siginfo_t info;
    while (::waitid(P_PIDFD, helper_pidfd_.get(), &info, WEXITED) != 0 && errno == EINTR) {
    }
    helper_pidfd_.reset();
  }
  if (!status_.ok()) KillAndReap(process_.pidfd);
  report_.reset();
}

absl::StatusOr<AttachedProcess> AttachInProgress::Result() {
  if (!done_) return absl::FailedPreconditionError("the attach is still under way");
  if (!status_.ok()) return status_;
  return std::move(process_);
}

absl::StatusOr<AttachedProcess> Attach(int container_pidfd, const AttachSpec& spec) {
  ASSIGN_OR_RETURN(std::unique_ptr<AttachInProgress> attach, AttachInProgress::Start(container_pidfd, spec));
  while (!attach->OnReadable()) {
    pollfd p = {attach->fd(), POLLIN, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return ErrnoError("poll the attach report");
  }
  return attach->Result();
}

absl::StatusOr<int> WaitAttached(AttachedProcess& process) {
  siginfo_t info = {};
  while (::waitid(P_PIDFD, process.pidfd.get(), &info, WEXITED) != 0) {
    if (errno != EINTR) return ErrnoError(absl::StrCat("waitid attached pid ", process.pid));
  }
  process.pidfd.reset();
  if (info.si_code == CLD_EXITED) return info.si_status;
  return 128 + info.si_status;
}

}  // namespace corral::runtime
