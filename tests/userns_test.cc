// Containers in their own user namespaces, as corral-run makes them by default: the id map from
// the pool, the idmapped rootfs, disjoint ranges for concurrent runs, the pool's errors, and
// attacks from inside that only host root could carry out (each fails with --privileged).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "runtime/attach.h"
#include "runtime/idmap.h"
#include "tests/container_fixture.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kPoolFirst = 3100000;

// The first line of /proc/PID/status starting with `key`.
std::string StatusLine(pid_t pid, absl::string_view key) {
  absl::StatusOr<std::string> status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return "";
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (absl::StartsWith(line, key)) return std::string(line);
  }
  return "";
}

class UsernsTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    dir_ = temp_dir() + "/userns-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(MakeDirectories(dir_, 0755).ok());
    WritePool(4);
  }
  void TearDown() override {
    RestoreIdPool();
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
    ContainerTest::TearDown();
  }

  void WritePool(int blocks) {
    config_ = dir_ + "/idmap.conf";
    ASSERT_TRUE(WriteFileAtomically(config_, absl::StrCat("range = ", kPoolFirst, " ", blocks * 65536, "\n",
                                                          "state_dir = ", dir_, "/idmap\n"))
                    .ok());
    ::setenv("CORRAL_IDMAP_CONFIG", config_.c_str(), 1);
  }
  std::string Allocations() { return ReadFile(dir_ + "/idmap/allocations").value_or(""); }

  std::vector<std::string> Run(std::vector<std::string> command, std::vector<std::string> options = {}) {
    std::vector<std::string> args = {"--rootfs", rootfs(), "--net", "none"};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    return args;
  }

  std::string dir_;
  std::string config_;
};

TEST_F(UsernsTest, RootInsideIsAnUnprivilegedHostRangeFromThePool) {
  CliResult r = RunCli(Run({"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g"}));
  ASSERT_EQ(r.exit_status, 0) << r.output;
  std::vector<std::string> lines = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << r.output;
  for (int i = 0; i < 2; ++i) {
    std::vector<std::string> fields = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    ASSERT_EQ(fields.size(), 3u) << lines[i];
    EXPECT_EQ(fields[0], "0");
    EXPECT_EQ(fields[1], absl::StrCat(kPoolFirst));
    EXPECT_EQ(fields[2], "65536");
  }
  EXPECT_EQ(lines[2], "0");
  EXPECT_EQ(lines[3], "0");
  // The run gave its block back.
  EXPECT_EQ(Allocations(), "");
}

TEST_F(UsernsTest, PrivilegedHasNoUserNamespace) {
  CliResult r = RunCli(Run({"cat", "/proc/self/uid_map"}, {"--privileged"}));
  ASSERT_EQ(r.exit_status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("4294967295"));
  EXPECT_FALSE(::access((dir_ + "/idmap/allocations").c_str(), F_OK) == 0 && !Allocations().empty());
  EXPECT_THAT(RunCli(Run({"true"}, {"--privileged", "--userns", "200000:65536"})).output,
              HasSubstr("exclude each other"));
}

// The rootfs is an idmapped bind: the image, owned by host root, is root's inside; what root
// inside writes is host root's on disk; uid 1000 inside is 1000 on disk.
TEST_F(UsernsTest, RootfsIsIdmappedBothWays) {
  CliResult r = RunCli(Run({"sh", "-c",
                            "awk '{print $2}' /proc/self/uid_map; stat -c '%u:%g' /bin/busybox; touch /by-root; "
                            "touch /by-user; chown 1000:1001 /by-user; stat -c '%u:%g' /by-root /by-user"}));
  ASSERT_EQ(r.exit_status, 0) << r.output;
  EXPECT_EQ(r.output, absl::StrCat(kPoolFirst, "\n0:0\n0:0\n1000:1001\n"));
  struct stat by_root, by_user;
  ASSERT_EQ(::lstat((rootfs() + "/by-root").c_str(), &by_root), 0);
  ASSERT_EQ(::lstat((rootfs() + "/by-user").c_str(), &by_user), 0);
  EXPECT_EQ(by_root.st_uid, 0u);
  EXPECT_EQ(by_root.st_gid, 0u);
  EXPECT_EQ(by_user.st_uid, 1000u);
  EXPECT_EQ(by_user.st_gid, 1001u);
  ::unlink((rootfs() + "/by-root").c_str());
  ::unlink((rootfs() + "/by-user").c_str());
}

// A host file owned by root (0600) bind-mounted read-write: root inside keeps CAP_DAC_OVERRIDE,
// which in its user namespace covers only files it owns. Privileged, the same open succeeds.
TEST_F(UsernsTest, HostRootFilesStayClosedToRootInside) {
  std::string secret = dir_ + "/host-secret";
  ASSERT_TRUE(WriteFileAtomically(secret, "host only\n", 0600).ok());
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "(exec 3>>/secret) 2>/dev/null && echo OPENED || echo DENIED"});
  spec.mounts.push_back(runtime::MountSpec::Bind(secret, "/secret", runtime::ReadOnly::kNo));
  absl::StatusOr<RunResult> privileged = ContainerTest::Run(spec);
  ASSERT_TRUE(privileged.ok()) << privileged.status();
  EXPECT_THAT(privileged->output, HasSubstr("OPENED"));  // the probe works
  spec.namespaces |= CLONE_NEWUSER;
  spec.uid_map = spec.gid_map = {{0, kPoolFirst + 65536 * 8, 65536}};
  spec.idmap_rootfs = true;
  absl::StatusOr<RunResult> contained = ContainerTest::Run(spec);
  ASSERT_TRUE(contained.ok()) << contained.status();
  EXPECT_THAT(contained->output, HasSubstr("DENIED"));
  EXPECT_EQ(ReadFile(secret).value_or(""), "host only\n");
}

// Issue 11's core_pattern route: an image whose /proc is a symlink leaves the container's
// procfs unmasked (under /run's tmpfs), so a nested user namespace may mount a fresh proc and
// open the host's core_pattern for writing (tests/probe/userns_probe.cc: opened and closed,
// nothing written). With --privileged (root inside is host root) that open succeeds, unless
// another layer refuses first; in the container's own user namespace it must fail.
TEST_F(UsernsTest, NestedProcCannotOpenTheHostsCorePattern) {
  std::string image = dir_ + "/proc-symlink";
  ASSERT_EQ(std::system(absl::StrCat("cp -a ", rootfs(), " ", image, " && rm -rf ", image, "/proc && ln -s run/p ",
                                     image, "/proc && mkdir -p ", image, "/run/p && cp tests/userns_probe ", image,
                                     "/bin/userns_probe")
                            .c_str()),
            0);
  auto run = [&](std::vector<std::string> options) {
    std::vector<std::string> args = {"--rootfs", image, "--net", "none"};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--", "/bin/userns_probe", "/tmp/p"});
    return RunCli(args);
  };
  // The control: privileged, the probe gets through, unless another layer stops it first (the
  // runtime refusing such a /proc, seccomp refusing the nested user namespace).
  CliResult privileged = run({"--privileged"});
  EXPECT_TRUE(privileged.output == "core_pattern ok\n" || privileged.exit_status == 125 ||
              absl::StartsWith(privileged.output, "unshare-user "))
      << privileged.output;
  CliResult contained = run({});
  EXPECT_THAT(contained.output, ::testing::Not(HasSubstr("core_pattern ok"))) << contained.output;
}

// With --net host the container cannot mount a sysfs of its own and binds the host's /sys,
// whose cgroup hierarchies (v1 and v2, on this hybrid host) come along below it, mounted
// read-write (issue 11, item 9). Their files are host root's: closed to root inside all the
// same. (Privileged, corral-run mounts a fresh sysfs without them.) Opened for appending and
// closed, never written.
TEST_F(UsernsTest, HostCgroupFilesUnderSysStayClosed) {
  const std::string probe =
      "n=0; for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs /sys/fs/cgroup/*/release_agent; do "
      "[ -e $f ] || continue; n=$((n+1)); (exec 3>>$f) 2>/dev/null && echo \"writable $f\"; done; echo files=$n; "
      "awk '$5 ~ \"^/sys/fs/cgroup/\" && $6 ~ /^rw/ {m = m + 1} END {print \"rw-mounts=\" m + 0}' /proc/self/mountinfo";
  CliResult contained = RunCli({"--rootfs", rootfs(), "--net", "host", "--", "sh", "-c", probe});
  ASSERT_EQ(contained.exit_status, 0) << contained.output;
  EXPECT_THAT(contained.output, ::testing::Not(HasSubstr("writable"))) << contained.output;
  EXPECT_THAT(contained.output, ::testing::Not(HasSubstr("files=0"))) << contained.output;
}

TEST_F(UsernsTest, ConcurrentRunsGetDisjointRangesAndRunAsThem) {
  int fd_a = -1, fd_b = -1;
  pid_t a = StartCli(Run({"sh", "-c", "cat /proc/self/uid_map; sleep 2"}), &fd_a);
  pid_t b = StartCli(Run({"sh", "-c", "cat /proc/self/uid_map; sleep 2"}), &fd_b);
  // While both run: two allocations, and each container's PID 1 runs as its block's base uid
  // seen from the host.
  std::vector<std::string> host_uids;
  for (int i = 0; i < 100 && host_uids.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    host_uids.clear();
    for (pid_t cli : {a, b}) {
      std::string children = ReadFile(absl::StrCat("/proc/", cli, "/task/", cli, "/children")).value_or("");
      int child = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(children), &child)) {
        std::string uid = StatusLine(child, "Uid:");
        if (!uid.empty() && !absl::StrContains(uid, "\t0\t")) host_uids.push_back(uid);
      }
    }
  }
  std::vector<std::string> allocations = absl::StrSplit(Allocations(), '\n', absl::SkipEmpty());
  EXPECT_EQ(allocations.size(), 2u) << Allocations();
  CliResult ra = FinishCli(a, fd_a), rb = FinishCli(b, fd_b);
  ASSERT_EQ(ra.exit_status, 0) << ra.output;
  ASSERT_EQ(rb.exit_status, 0) << rb.output;
  EXPECT_NE(ra.output, rb.output);
  ASSERT_EQ(host_uids.size(), 2u);
  std::vector<std::string> want = {absl::StrCat(kPoolFirst), absl::StrCat(kPoolFirst + 65536)};
  for (const std::string& uid : host_uids) {
    std::vector<std::string> fields = absl::StrSplit(uid, '\t', absl::SkipEmpty());
    ASSERT_EQ(fields.size(), 5u) << uid;
    EXPECT_TRUE(fields[1] == want[0] || fields[1] == want[1]) << uid;
  }
  EXPECT_NE(host_uids[0], host_uids[1]);
  EXPECT_EQ(Allocations(), "");
}

TEST_F(UsernsTest, ExhaustedPoolIsOneClearErrorLeavingNothing) {
  WritePool(1);
  int fd = -1;
  pid_t holder = StartCli(Run({"sleep", "2"}), &fd);
  for (int i = 0; i < 100 && Allocations().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::string held = Allocations();
  ASSERT_FALSE(held.empty());
  std::vector<std::string> mounts = CurrentMounts();
  CliResult r = RunCli(Run({"echo", "never"}));
  EXPECT_EQ(r.exit_status, 125);
  EXPECT_THAT(r.output, HasSubstr("no free block of 65536 host uids/gids"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("never")));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_EQ(Allocations(), held);
  EXPECT_EQ(CurrentMounts(), mounts);
  EXPECT_EQ(FinishCli(holder, fd).exit_status, 0);
}

TEST_F(UsernsTest, StaleBlockOfADeadRunIsReclaimed) {
  WritePool(1);
  ASSERT_TRUE(MakeDirectories(dir_ + "/idmap", 0700).ok());
  // Our own pid with a start time that is not ours: a run that died and whose pid came back.
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/idmap/allocations", absl::StrCat(kPoolFirst, " run:", ::getpid(), ":1\n")).ok());
  CliResult r = RunCli(Run({"cat", "/proc/self/uid_map"}));
  ASSERT_EQ(r.exit_status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat(kPoolFirst)));
  EXPECT_EQ(Allocations(), "");
}

// A corral-run killed with SIGKILL takes its container along (issue 13: its init is bound with
// PR_SET_PDEATHSIG; before, the container ran on, reparented); the block it leaves recorded is
// reclaimed by the next run, since nothing runs as its uids any more.
TEST_F(UsernsTest, BlockOfAKilledRunIsReclaimedOnceItsContainerDiedWithIt) {
  WritePool(2);
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);  // the orphaned container comes to us
  int fd = -1;
  pid_t cli = StartCli(Run({"sleep", "30"}), &fd);
  pid_t container = 0;
  for (int i = 0; i < 100 && container == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::string children = ReadFile(absl::StrCat("/proc/", cli, "/task/", cli, "/children")).value_or("");
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(children), &container)) container = 0;
    if (container != 0 && StatusLine(container, "Uid:").find(absl::StrCat(kPoolFirst)) == std::string::npos) {
      container = 0;  // not in its user namespace yet
    }
  }
  ASSERT_NE(container, 0);
  ::kill(cli, SIGKILL);
  EXPECT_EQ(::waitpid(cli, nullptr, 0), cli);
  // The container (sleep 30) dies with it within moments and comes to us, the subreaper.
  bool died = false;
  for (int i = 0; i < 250 && !died; ++i) {
    died = ::waitpid(container, nullptr, WNOHANG) == container;
    if (!died) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!died) {
    ::kill(container, SIGKILL);
    ::waitpid(container, nullptr, 0);
  }
  EXPECT_TRUE(died) << "the container outlived its corral-run";
  ::close(fd);
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
  EXPECT_THAT(Allocations(), HasSubstr(absl::StrCat(kPoolFirst, " run:", cli, ":")));  // nobody released it
  CliResult second = RunCli(Run({"cat", "/proc/self/uid_map"}));
  EXPECT_THAT(second.output, HasSubstr(absl::StrCat(kPoolFirst, " "))) << second.output;
  EXPECT_EQ(Allocations(), "");
}

TEST_F(UsernsTest, BadPoolConfigIsOneClearError) {
  ASSERT_TRUE(WriteFileAtomically(config_, "range = 100 65536\n").ok());
  CliResult r = RunCli(Run({"echo", "never"}));
  EXPECT_EQ(r.exit_status, 125);
  EXPECT_THAT(r.output, HasSubstr("overlaps the host's own ids"));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  ASSERT_TRUE(WriteFileAtomically(config_, "range = 1000000 131072\nrange = 1065536 65536\n").ok());
  EXPECT_THAT(RunCli(Run({"echo", "never"})).output, HasSubstr("overlaps range"));
}

TEST_F(UsernsTest, UnsearchableRootfsParentIsAClearError) {
  std::string hidden = dir_ + "/hidden";
  ASSERT_TRUE(MakeDirectories(hidden + "/root", 0700).ok());
  ASSERT_EQ(::chmod(hidden.c_str(), 0700), 0);
  CliResult r = RunCli({"--rootfs", hidden + "/root", "--net", "none", "--", "true"});
  EXPECT_EQ(r.exit_status, 125);
  EXPECT_THAT(r.output, HasSubstr("cannot be searched by the container's root"));
  EXPECT_EQ(Allocations(), "");
}

// A file system that cannot be idmapped (overlayfs here, in a mount namespace of the test's
// own so the host's table is untouched): one clear error naming the step, path and errno, and
// pointing at --privileged; nothing left in the pool.
TEST_F(UsernsTest, RootfsThatCannotBeIdmappedIsAClearError) {
  std::string o = dir_ + "/ovl";
  ASSERT_TRUE(MakeDirectories(o + "/upper", 0755).ok());
  ASSERT_TRUE(MakeDirectories(o + "/work", 0755).ok());
  ASSERT_TRUE(MakeDirectories(o + "/merged", 0755).ok());
  std::string out = o + "/out";
  std::string script = absl::StrCat(
      "unshare -m --propagation private sh -c 'mount -t overlay overlay -o lowerdir=", rootfs(), ",upperdir=", o,
      "/upper,workdir=", o, "/work ", o, "/merged && exec ", kCorralRun, " --rootfs ", o,
      "/merged --net none -- true' >", out, " 2>&1; echo \"exit=$?\" >>", out);
  ASSERT_EQ(std::system(script.c_str()), 0);
  std::string output = ReadFile(out).value_or("");
  EXPECT_THAT(output, HasSubstr("mount_setattr MOUNT_ATTR_IDMAP"));
  EXPECT_THAT(output, HasSubstr(o + "/merged"));
  EXPECT_THAT(output, HasSubstr("(EINVAL)"));
  EXPECT_THAT(output, HasSubstr("--privileged"));
  EXPECT_THAT(output, HasSubstr("exit=125"));
  EXPECT_EQ(Allocations(), "");
}

// An attached process (corralctl exec) is root of the container's user namespace, with the
// container's capabilities there and none of the manager's groups; not the host's root left
// unmapped (which would lose every capability at exec and still own host-root files).
TEST_F(UsernsTest, AttachIsRootOfTheContainersUserNamespace) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sleep", "100"});
  spec.namespaces |= CLONE_NEWUSER;
  spec.uid_map = spec.gid_map = {{0, kPoolFirst + 65536 * 10, 65536}};
  spec.idmap_rootfs = true;
  auto container = runtime::Container::Start(spec);
  ASSERT_TRUE(container.ok()) << container.status();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  runtime::AttachSpec attach;
  attach.command = {"/bin/sh", "-c",
                    "echo $(id -u) $(id -g) $(id -G); awk '/^CapEff:/ {print $2}' /proc/self/status; "
                    "touch /attached; stat -c %u /attached; rm /attached"};
  attach.stdout_fd = fds[1];
  attach.stderr_fd = fds[1];
  auto process = runtime::Attach(container->pidfd(), attach);
  ::close(fds[1]);
  ASSERT_TRUE(process.ok()) << process.status();
  std::string out = ReadAll(fds[0]);
  ::close(fds[0]);
  ASSERT_EQ(*runtime::WaitAttached(*process), 0) << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0], "0 0 0");
  EXPECT_NE(lines[1], "0000000000000000");  // the defaults, in the container's namespace
  EXPECT_EQ(lines[2], "0");
  ASSERT_TRUE(container->Signal(SIGKILL).ok());
  ASSERT_TRUE(container->Wait().ok());
}

TEST_F(UsernsTest, ConsoleIsUsableByRootInside) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "exec 3<>/dev/console && echo CONSOLE-OK"});
  spec.tty = true;
  spec.namespaces |= CLONE_NEWUSER;
  spec.uid_map = spec.gid_map = {{0, kPoolFirst + 65536 * 9, 65536}};
  spec.idmap_rootfs = true;
  absl::StatusOr<runtime::Container> container = runtime::Container::Start(spec);
  ASSERT_TRUE(container.ok()) << container.status();
  std::string output;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(container->console_master(), buf, sizeof(buf));
    if (n <= 0) break;
    output.append(buf, n);
  }
  ASSERT_TRUE(container->Wait().ok());
  EXPECT_THAT(output, HasSubstr("CONSOLE-OK"));
}

}  // namespace
}  // namespace corral::testing
