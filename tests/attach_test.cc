// Privileged integration tests of attach (corralctl exec's library) as a container would
// attack it: what the entering process exposes while a container holds its execve back with a
// write lease, which fds reach the command, where -t's pty comes from, cgroup v1 placement, and
// the tiny init's restrictions.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/attach.h"
#include "runtime/capabilities.h"
#include "runtime/container.h"
#include "runtime/exec.h"
#include "runtime/spec.h"
#include "tests/container_fixture.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;

class AttachTest : public ContainerTest {
 protected:
  static void SetUpTestSuite() {
    ContainerTest::SetUpTestSuite();
    if (::geteuid() != 0) return;
    auto probe = ReadFile("tests/attach_probe");
    ASSERT_TRUE(probe.ok()) << probe.status();
    // The probe itself, and a copy only ever exec'd by the attach under test (a binary that is
    // running cannot take a write lease).
    for (const char* name : {"/bin/attach_probe", "/bin/lease-target"}) {
      std::string path = rootfs() + name;
      ASSERT_TRUE(WriteFileAtomically(path, *probe, 0755).ok());
      ASSERT_EQ(::chmod(path.c_str(), 0755), 0);
    }
  }

  // Starts `command` in a busybox container with stdout (and stderr) on a pipe we read.
  absl::StatusOr<runtime::Container> StartWithOutput(const runtime::ContainerSpec& spec, UniqueFd* output) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    output->reset(fds[0]);
    UniqueFd write_end(fds[1]);
    UniqueFd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    runtime::StartOptions options;
    options.stdio[0] = null_in.get();
    options.stdio[1] = write_end.get();
    options.stdio[2] = write_end.get();
    return runtime::Container::Start(spec, options);
  }

  // Runs `command` attached to `container` and returns its output (stdout and stderr).
  std::string AttachOutput(runtime::Container& container, std::vector<std::string> command, int* status) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    runtime::AttachSpec spec;
    spec.command = std::move(command);
    spec.stdout_fd = write_end.get();
    spec.stderr_fd = write_end.get();
    auto process = runtime::Attach(container.pidfd(), spec);
    write_end.reset();
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return "";
    std::string out = ReadAll(read_end.get());
    auto exit_status = runtime::WaitAttached(*process);
    *status = exit_status.ok() ? *exit_status : -1;
    return out;
  }
};

std::string Readlink(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Reads one line from `fd` (blocking).
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  return line;
}

void Stop(runtime::Container& container) {
  ASSERT_TRUE(container.Signal(SIGKILL).ok());
  ASSERT_TRUE(container.Wait().ok());
}

TEST_F(AttachTest, TheCommandGetsOnlyItsStdio) {
  // An fd of ours without close-on-exec, as a manager might hold one: it must not arrive.
  UniqueFd leaky(::open("/", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(leaky.valid());
  auto container = runtime::Container::Start(BusyboxSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(container.ok()) << container.status();
  int status = -1;
  std::string out = AttachOutput(*container, {"/bin/attach_probe", "fds"}, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "fds 0 1 2\n");
  Stop(*container);
}

// The attack of issue 11: a container process takes a write lease on the file an exec will run,
// so the entering process waits in execve; meanwhile another process of the container looks at
// it through /proc. It must find a process that it can neither read the fds, root nor cwd of,
// and the attach must not hold us either.
TEST_F(AttachTest, AnExecHeldBackByALeaseExposesNothing) {
  UniqueFd output;
  auto container = StartWithOutput(
      BusyboxSpec({"/bin/sh", "-c", "/bin/attach_probe lease /bin/lease-target 1500; exec sleep 100"}), &output);
  ASSERT_TRUE(container.ok()) << container.status();
  ASSERT_EQ(ReadLine(output.get()), "leased");

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd blocked_out(fds[0]), blocked_in(fds[1]);
  runtime::AttachSpec spec;
  spec.command = {"/bin/lease-target", "fds"};
  spec.stdout_fd = blocked_in.get();
  UniqueFd leaky(::open("/", O_RDONLY | O_DIRECTORY));  // no close-on-exec, as a manager's might be
  auto start = std::chrono::steady_clock::now();
  auto attach = runtime::AttachInProgress::Start(container->pidfd(), spec);
  ASSERT_TRUE(attach.ok()) << attach.status();
  blocked_in.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200)) << "Start() waited";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE((*attach)->OnReadable()) << "the exec did not wait for the lease";
  // Seen from the host, the waiting process holds its stdio and the report socket, nothing of
  // ours (`leaky`, the container's pidfd, the pipes' other ends).
  ASSERT_GT((*attach)->process_pid(), 0);
  std::vector<std::string> held;
  DIR* dir = ::opendir(absl::StrCat("/proc/", (*attach)->process_pid(), "/fd").c_str());
  ASSERT_NE(dir, nullptr);
  for (dirent* e; (e = ::readdir(dir)) != nullptr;) {
    if (e->d_name[0] != '.') held.emplace_back(e->d_name);
  }
  ::closedir(dir);
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<std::string>{"0", "1", "2", "3"}));

  int status = -1;
  std::string scan = AttachOutput(*container, {"/bin/attach_probe", "scan"}, &status);
  ASSERT_EQ(status, 0) << scan;
  // The held-back process still runs our image (execve has not replaced it): our comm.
  std::string comm(absl::StripTrailingAsciiWhitespace(*ReadFile("/proc/self/comm")));
  bool seen = false;
  for (absl::string_view line : absl::StrSplit(scan, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() != 5 || f[1] != comm) continue;
    seen = true;
    EXPECT_NE(f[2], "fd=ok") << line;
    EXPECT_NE(f[3], "root=ok") << line;
    EXPECT_NE(f[4], "cwd=ok") << line;
  }
  EXPECT_TRUE(seen) << "the held-back process was not visible in the container:\n" << scan;

  // The lease goes after 1.5 s; the exec then proceeds and the command has only its stdio.
  while (!(*attach)->OnReadable()) {
    pollfd p = {(*attach)->fd(), POLLIN, 0};
    ASSERT_GE(::poll(&p, 1, 10000), 1) << "the exec did not go on after the lease";
  }
  auto process = (*attach)->Result();
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ(ReadAll(blocked_out.get()), "fds 0 1 2\n");
  EXPECT_EQ(*runtime::WaitAttached(*process), 0);
  Stop(*container);
}

TEST_F(AttachTest, AbortKillsAnExecHeldBack) {
  UniqueFd output;
  auto container = StartWithOutput(
      BusyboxSpec({"/bin/sh", "-c", "/bin/attach_probe lease /bin/lease-target 2000; exec sleep 100"}), &output);
  ASSERT_TRUE(container.ok()) << container.status();
  ASSERT_EQ(ReadLine(output.get()), "leased");
  runtime::AttachSpec spec;
  spec.command = {"/bin/lease-target", "fds"};
  auto attach = runtime::AttachInProgress::Start(container->pidfd(), spec);
  ASSERT_TRUE(attach.ok()) << attach.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto start = std::chrono::steady_clock::now();
  (*attach)->Abort(absl::DeadlineExceededError("did not start in time"));
  while (!(*attach)->OnReadable()) {
    pollfd p = {(*attach)->fd(), POLLIN, 0};
    ASSERT_GE(::poll(&p, 1, 5000), 1);
  }
  // Killed at once, not when the lease ended.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  auto process = (*attach)->Result();
  ASSERT_FALSE(process.ok());
  EXPECT_EQ(process.status().code(), absl::StatusCode::kDeadlineExceeded);
  Stop(*container);
}

// A container that can reach the held-back process's report socket (CAP_SYS_PTRACE over it:
// a privileged container, or a boot container in its own user namespace in the instant between
// the new image's mm and close-on-exec) takes a copy with pidfd_getfd, as the test does here.
// Holding it must not keep the attach from ending once aborted (the timeout), and records it
// writes must not be taken as the helper's beyond what the helper ever sends.
class StolenReportTest : public AttachTest {
 protected:
  // Starts an attach held back by a lease and returns the copy of its report socket.
  void StartHeldBack() {
    auto container = StartWithOutput(
        BusyboxSpec({"/bin/sh", "-c", "/bin/attach_probe lease /bin/lease-target 1500; exec sleep 100"}), &output_);
    ASSERT_TRUE(container.ok()) << container.status();
    container_ = std::make_unique<runtime::Container>(std::move(*container));
    ASSERT_EQ(ReadLine(output_.get()), "leased");
    runtime::AttachSpec spec;
    spec.command = {"/bin/lease-target", "fds"};
    auto attach = runtime::AttachInProgress::Start(container_->pidfd(), spec);
    ASSERT_TRUE(attach.ok()) << attach.status();
    attach_ = std::move(*attach);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_FALSE(attach_->OnReadable());
    ASSERT_GT(attach_->process_pid(), 0);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, attach_->process_pid(), 0)));
    ASSERT_TRUE(pidfd.valid());
    stolen_.reset(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), 3, 0)));
    ASSERT_TRUE(stolen_.valid()) << "pidfd_getfd: " << errno;
  }
  // Polls the attach until it ends; false when it is still under way after `ms`.
  bool EndsWithin(int ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!attach_->OnReadable()) {
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      pollfd p = {attach_->fd(), POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
    }
    return true;
  }
  void TearDown() override {
    attach_.reset();
    stolen_.reset();
    if (container_) Stop(*container_);
    AttachTest::TearDown();
  }
  UniqueFd output_, stolen_;
  std::unique_ptr<runtime::Container> container_;
  std::unique_ptr<runtime::AttachInProgress> attach_;
};

TEST_F(StolenReportTest, AHeldCopyDoesNotKeepAnAbortedAttachAlive) {
  StartHeldBack();
  attach_->Abort(absl::DeadlineExceededError("did not start in time"));
  ASSERT_TRUE(EndsWithin(3000)) << "the attach never ended: a copy of its report socket outside kept it";
  auto process = attach_->Result();
  ASSERT_FALSE(process.ok());
  EXPECT_EQ(process.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(StolenReportTest, RecordsFromSomeoneElseEndTheAttach) {
  StartHeldBack();
  for (int i = 0; i < 8; ++i) {
    char junk[7] = "forged";
    ASSERT_EQ(::send(stolen_.get(), junk, sizeof(junk), MSG_DONTWAIT), static_cast<ssize_t>(sizeof(junk)));
  }
  ASSERT_TRUE(EndsWithin(3000)) << "forged records were taken for the helper's, and the attach went on";
  auto process = attach_->Result();
  ASSERT_FALSE(process.ok());
  EXPECT_THAT(std::string(process.status().message()), HasSubstr("report"));
}

TEST_F(AttachTest, ThePtyComesFromTheContainersDevpts) {
  auto container = runtime::Container::Start(BusyboxSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(container.ok()) << container.status();
  runtime::AttachSpec spec;
  spec.command = {"/bin/sh", "-c", "tty; /bin/attach_probe ttyid"};
  spec.allocate_pty = true;
  auto process = runtime::Attach(container->pidfd(), spec);
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_TRUE(process->pty_master.valid());
  struct statfs fs;
  ASSERT_EQ(::fstatfs(process->pty_master.get(), &fs), 0);
  EXPECT_EQ(fs.f_type, DEVPTS_SUPER_MAGIC);
  // The container's devpts instance, not ours.
  struct stat master, theirs, ours;
  ASSERT_EQ(::fstat(process->pty_master.get(), &master), 0);
  ASSERT_EQ(::stat(absl::StrCat("/proc/", container->pid(), "/root/dev/pts/ptmx").c_str(), &theirs), 0);
  ASSERT_EQ(::stat("/dev/pts/ptmx", &ours), 0);
  EXPECT_EQ(master.st_dev, theirs.st_dev);
  EXPECT_NE(master.st_dev, ours.st_dev);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(process->pty_master.get(), buf, sizeof(buf))) > 0;) out.append(buf, n);
  EXPECT_EQ(*runtime::WaitAttached(*process), 0);
  EXPECT_THAT(out, ::testing::ContainsRegex("^/dev/pts/[0-9]+\r\ntty 136:[0-9]+\r\n"));
  Stop(*container);
}

// With a user namespace of its own (what every container gets by default), the command is the
// namespace's root (an unprivileged uid on the host), without our supplementary groups, and
// -t's pty slave belongs to that root too.
TEST_F(AttachTest, AttachIntoAUserNamespace) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sleep", "100"});
  spec.namespaces |= CLONE_NEWUSER;
  spec.uid_map = {{0, 200000, 65536}};
  spec.gid_map = {{0, 200000, 65536}};
  auto container = runtime::Container::Start(spec);
  ASSERT_TRUE(container.ok()) << container.status();
  int status = -1;
  std::string out = AttachOutput(*container, {"/bin/sh", "-c", "id -u; id -g; grep -E '^Groups:' /proc/self/status; readlink /proc/self/ns/user"}, &status);
  EXPECT_EQ(status, 0) << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n');
  ASSERT_GE(lines.size(), 4u) << out;
  EXPECT_EQ(lines[0], "0");
  EXPECT_EQ(lines[1], "0");
  EXPECT_EQ(absl::StripAsciiWhitespace(lines[2]), "Groups:") << "supplementary groups of ours arrived";
  EXPECT_EQ(lines[3], Readlink(absl::StrCat("/proc/", container->pid(), "/ns/user")));

  runtime::AttachSpec pty;
  pty.command = {"/bin/sh", "-c", "stat -c '%u:%g' $(tty); id -u"};
  pty.allocate_pty = true;
  auto process = runtime::Attach(container->pidfd(), pty);
  ASSERT_TRUE(process.ok()) << process.status();
  std::string tty_out;
  char buf[256];
  for (ssize_t n; (n = ::read(process->pty_master.get(), buf, sizeof(buf))) > 0;) tty_out.append(buf, n);
  EXPECT_EQ(*runtime::WaitAttached(*process), 0);
  EXPECT_EQ(tty_out, "0:0\r\n0\r\n");
  Stop(*container);
}

// A container that controls its /dev (CAP_SYS_ADMIN, no seccomp) swaps /dev/pts for a symlink
// or for a tmpfs with a ptmx node of its own: the pty is refused, nothing else is opened.
TEST_F(AttachTest, APtyIsRefusedFromAnythingButDevpts) {
  struct Case {
    const char* setup;
    const char* error;
  } cases[] = {
      {"umount /dev/pts && rmdir /dev/pts && ln -s /tmp /dev/pts && mknod /tmp/ptmx c 5 2", "no symlinks"},
      {"umount /dev/pts && mount -t tmpfs none /dev/pts && mknod /dev/pts/ptmx c 5 2", "not a devpts"},
  };
  for (const Case& c : cases) {
    runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", absl::StrCat(c.setup, " && echo ready; exec sleep 100")});
    spec.seccomp = false;
    std::vector<int> caps = runtime::DefaultCapabilities();
    for (int cap : {21 /* CAP_SYS_ADMIN */, 27 /* CAP_MKNOD */}) {
      if (std::find(caps.begin(), caps.end(), cap) == caps.end()) caps.push_back(cap);
    }
    spec.capabilities = caps;
    UniqueFd output;
    auto container = StartWithOutput(spec, &output);
    ASSERT_TRUE(container.ok()) << container.status();
    ASSERT_EQ(ReadLine(output.get()), "ready") << c.setup;
    runtime::AttachSpec attach;
    attach.command = {"/bin/true"};
    attach.allocate_pty = true;
    auto process = runtime::Attach(container->pidfd(), attach);
    ASSERT_FALSE(process.ok()) << c.setup;
    EXPECT_THAT(process.status().message(), HasSubstr(c.error)) << process.status();
    Stop(*container);
  }
}

// On a host with cgroup v1 hierarchies (this CI host is hybrid), an exec'd process joins the
// leader's cgroup in each of them, so memory and pids limits cover it. The leader is moved to a
// child of our own cgroup (never at a hierarchy's root) in every hierarchy where we are not at
// the root; skips where there is none.
TEST_F(AttachTest, TheCommandJoinsTheLeadersV1Cgroups) {
  auto ours = ReadFile("/proc/self/cgroup");
  ASSERT_TRUE(ours.ok());
  std::map<std::string, std::string> dirs;  // controller -> the test cgroup we made
  for (absl::string_view line : absl::StrSplit(*ours, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3 || f[0] == "0" || f[2] == "/") continue;
    if (f[1] != "memory" && f[1] != "pids") continue;
    std::string base = absl::StrCat("/sys/fs/cgroup/", f[1], f[2]);
    struct stat st;
    if (::stat(base.c_str(), &st) != 0) continue;
    std::string dir = absl::StrCat(base, "/corral-attach-test-", ::getpid());
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
    dirs[f[1]] = dir;
  }
  if (dirs.empty()) GTEST_SKIP() << "no cgroup v1 memory/pids hierarchy where we are below the root";
  auto container = runtime::Container::Start(BusyboxSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(container.ok()) << container.status();
  for (const auto& [controller, dir] : dirs) {
    ASSERT_TRUE(WriteExistingFile(dir + "/cgroup.procs", absl::StrCat(container->pid())).ok()) << dir;
  }
  int status = -1;
  std::string out = AttachOutput(*container, {"/bin/cat", "/proc/self/cgroup"}, &status);
  EXPECT_EQ(status, 0);
  for (const auto& [controller, dir] : dirs) {
    std::string leaf = dir.substr(dir.rfind('/'));
    EXPECT_THAT(out, ::testing::ContainsRegex(absl::StrCat(":", controller, ":.*", leaf, "\n"))) << out;
  }
  Stop(*container);
  for (const auto& [controller, dir] : dirs) EXPECT_EQ(::rmdir(dir.c_str()), 0) << dir;
}

// The tiny init is a process of the container like any other: the container's capabilities,
// its seccomp filter and no_new_privs, and none of the manager's fds.
// corral-run gives the container its own stdio, which may be the caller's terminal (the
// admin's shell's). The container's first process starts a session of its own, so that
// terminal is not its controlling one: TIOCSTI (typing into the admin's shell, which reads the
// terminal once corral-run is done) is refused, and /dev/tty opens nothing. The control: the
// caller, whose controlling terminal it is, can push input (where the kernel allows TIOCSTI).
TEST_F(AttachTest, AContainerCannotTypeIntoTheCallersTerminal) {
  auto legacy = ReadFile("/proc/sys/dev/tty/legacy_tiocsti");
  if (legacy.ok() && absl::StripAsciiWhitespace(*legacy) != "1") GTEST_SKIP() << "TIOCSTI is off on this kernel";
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(master.valid());
  ASSERT_EQ(::grantpt(master.get()), 0);
  ASSERT_EQ(::unlockpt(master.get()), 0);
  std::string slave_name = ::ptsname(master.get());
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  pid_t pid = ::fork();
  if (pid == 0) {
    // The admin's shell: a session whose controlling terminal is the pty, running corral.
    ::setsid();
    int slave = ::open(slave_name.c_str(), O_RDWR);
    if (slave < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0) ::_exit(2);
    char c = '+';
    if (::ioctl(slave, TIOCSTI, &c) != 0) ::_exit(3);  // the control
    runtime::StartOptions options;
    options.stdio[0] = slave;
    options.stdio[1] = write_end.get();
    options.stdio[2] = write_end.get();
    auto container = runtime::Container::Start(BusyboxSpec({"/bin/attach_probe", "tiocsti"}), options);
    if (!container.ok()) ::_exit(4);
    ::_exit(container->Wait().ok() ? 0 : 5);
  }
  write_end.reset();
  std::string out = ReadAll(read_end.get());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ": " << out;
  EXPECT_EQ(out, "tiocsti EPERM\n/dev/tty ENXIO\n");
  // What the terminal's reader would get next: the control's '+' only.
  struct termios raw = {};
  UniqueFd slave(::open(slave_name.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(slave.valid());
  ASSERT_EQ(::tcgetattr(slave.get(), &raw), 0);
  ::cfmakeraw(&raw);
  ASSERT_EQ(::tcsetattr(slave.get(), TCSANOW, &raw), 0);
  char queued[16] = {};
  ssize_t n = ::read(slave.get(), queued, sizeof(queued));
  EXPECT_EQ(std::string(queued, n > 0 ? static_cast<size_t>(n) : 0), "+");
}

// A credential change (setresuid to the command's user, or to the root of a user namespace)
// sets dumpability to fs.suid_dumpable, and a host may set that to 1: the attach's process and
// the tiny init, copies of the manager until their execve (the init for ever), would then be
// open to the container's ptrace and /proc/PID/fd. This host keeps suid_dumpable at 0, which we
// must not change, so the child stands for such a host by turning dumpable on just before the
// drop (to uid 0: no credential change that would reset it here): the drop must end with the
// process not dumpable.
TEST(DropPrivilegesTest, LeavesTheProcessNotDumpable) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  runtime::ExecOptions options;
  options.command = {"/bin/true"};
  options.capabilities = runtime::DefaultCapabilities();
  options.no_new_privs = false;
  runtime::ExecPlan plan = runtime::MakeExecPlan(options);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 || ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) ::_exit(2);
    if (!runtime::DropPrivilegesInChild(plan, write_end.get())) ::_exit(3);
    ::_exit(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : 1);
  }
  write_end.reset();
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: dumpable after the drop; 2: setup; 3: the drop failed";
}

TEST_F(AttachTest, TheTinyInitRunsRestricted) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/1/status; exec sleep 100"});
  spec.init = runtime::InitMode::kTinyInit;
  UniqueFd output;
  auto container = StartWithOutput(spec, &output);
  ASSERT_TRUE(container.ok()) << container.status();
  std::map<std::string, std::string> fields;
  for (int i = 0; i < 4; ++i) {
    std::string line = ReadLine(output.get());
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
    fields[kv.first] = std::string(absl::StripAsciiWhitespace(kv.second));
  }
  uint64_t expected = 0;
  for (int cap : runtime::DefaultCapabilities()) expected |= uint64_t{1} << cap;
  EXPECT_EQ(runtime::ParseCapabilityMask(fields["CapBnd"]), expected) << fields["CapBnd"];
  EXPECT_EQ(runtime::ParseCapabilityMask(fields["CapEff"]), expected) << fields["CapEff"];
  EXPECT_EQ(fields["NoNewPrivs"], "1");
  EXPECT_EQ(fields["Seccomp"], "2");
  // Its fds, seen from here: stdio only.
  std::vector<std::string> fds;
  DIR* dir = ::opendir(absl::StrCat("/proc/", container->pid(), "/fd").c_str());
  ASSERT_NE(dir, nullptr);
  for (dirent* e; (e = ::readdir(dir)) != nullptr;) {
    if (e->d_name[0] != '.') fds.emplace_back(e->d_name);
  }
  ::closedir(dir);
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2"}));
  Stop(*container);
}

}  // namespace
}  // namespace corral::testing
