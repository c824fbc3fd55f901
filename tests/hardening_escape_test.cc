// Escape tests (privileged tier) of the seccomp profiles, the capability sets and
// supplementary groups of container processes, and the image store's permissions. Each test
// tries the attack, from inside a container or as user nobody on the host, and asserts it
// fails; each fails when its protection is removed. Probes never write anything.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "runtime/attach.h"
#include "runtime/capabilities.h"
#include "runtime/exec.h"
#include "tests/container_fixture.h"
#include "tools/images/debian_image.h"
#include "tools/images/image_store.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kProbe[] = "/bin/isolation_probe";

// "name result" lines of the probe, by name.
std::map<std::string, std::string> ProbeResults(const std::string& output) {
  std::map<std::string, std::string> results;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    if (words.size() == 2) results[words[0]] = words[1];
  }
  return results;
}

// "Field:\tvalue" lines of /proc/PID/status as printed by grep, by field.
std::map<std::string, std::string> StatusFields(const std::string& output) {
  std::map<std::string, std::string> fields;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
    fields[kv.first] = std::string(absl::StripAsciiWhitespace(kv.second));
  }
  return fields;
}

// What the default profile answers, and what the boot profile answers, per probe line.
const std::map<std::string, std::string>& DefaultProfileAnswers() {
  static const auto* answers = new std::map<std::string, std::string>{
      {"clone_newuser", "EPERM"},          {"unshare_newuser", "EPERM"},
      {"clone3", "ENOSYS"},                {"pthread_create", "ok"},
      {"fork", "ok"},                      {"io_uring_setup", "EPERM"},
      {"io_uring_enter", "EPERM"},         {"io_uring_register", "EPERM"},
      {"socket_vsock", "EAFNOSUPPORT"},    {"socket_vsock_high_bits", "EAFNOSUPPORT"},
      {"socket_netlink_audit", "EPROTONOSUPPORT"}, {"socket_netlink_route", "ok"},
      {"socket_unix", "ok"},
      // The 32-bit and x32 entry points are filtered the same.
      {"unshare_newuser_i386", "EPERM"},   {"unshare_newuser_x32", "EPERM"},
      {"socket_vsock_i386", "EAFNOSUPPORT"}, {"socketcall_vsock_i386", "EAFNOSUPPORT"},
  };
  return *answers;
}

const std::map<std::string, std::string>& BootProfileAnswers() {
  static const auto* answers = [] {
    auto* a = new std::map<std::string, std::string>(DefaultProfileAnswers());
    (*a)["clone_newuser"] = "ok";
    (*a)["unshare_newuser"] = "ok";
    (*a)["clone3"] = "ok";
    (*a)["unshare_newuser_i386"] = "ok";
    a->erase("unshare_newuser_x32");  // allowed: then the kernel's answer (ENOSYS without x32)
    return a;
  }();
  return *answers;
}

void ExpectAnswers(const std::string& output, const std::map<std::string, std::string>& expected,
                   const std::string& who) {
  std::map<std::string, std::string> got = ProbeResults(output);
  for (const auto& [call, answer] : expected) {
    EXPECT_EQ(got[call], answer) << who << ": " << call << "\n" << output;
  }
}

class EscapeTest : public ContainerTest {
 protected:
  static void SetUpTestSuite() {
    ContainerTest::SetUpTestSuite();
    if (::geteuid() != 0) return;
    auto probe = ReadFile("tests/isolation_probe");
    ASSERT_TRUE(probe.ok()) << probe.status();
    std::string path = rootfs() + kProbe;
    ASSERT_TRUE(WriteFileAtomically(path, *probe, 0755).ok());
    ASSERT_EQ(::chmod(path.c_str(), 0755), 0);
  }

  // Runs `command` attached to a running container started from `container_spec`.
  std::string RunAttached(const runtime::ContainerSpec& container_spec, runtime::AttachSpec attach) {
    runtime::ContainerSpec sleeper = container_spec;
    sleeper.command = {"/bin/sleep", "100"};
    auto container = runtime::Container::Start(sleeper);
    EXPECT_TRUE(container.ok()) << container.status();
    if (!container.ok()) return "";
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    attach.stdout_fd = fds[1];
    attach.stderr_fd = fds[1];
    auto process = runtime::Attach(container->pidfd(), attach);
    ::close(fds[1]);
    std::string out;
    if (process.ok()) {
      out = ReadAll(fds[0]);
      EXPECT_EQ(*runtime::WaitAttached(*process), 0) << out;
    } else {
      ADD_FAILURE() << process.status();
    }
    ::close(fds[0]);
    EXPECT_TRUE(container->Signal(SIGKILL).ok());
    EXPECT_TRUE(container->Wait().ok());
    return out;
  }

  // A container as a booted systemd gets it: the boot capability set, in its own user
  // namespace (root inside mapped to an unprivileged range).
  runtime::ContainerSpec BootSpec(std::vector<std::string> command) const {
    runtime::ContainerSpec spec = BusyboxSpec(std::move(command));
    spec.capabilities = runtime::BootCapabilities();
    spec.namespaces |= CLONE_NEWUSER;
    spec.uid_map = {{0, 200000, 65536}};
    spec.gid_map = {{0, 200000, 65536}};
    return spec;
  }
};

TEST_F(EscapeTest, DefaultContainerCannotCreateAUserNamespaceButForksAndThreadsWork) {
  auto r = Run(BusyboxSpec({kProbe}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_status, 0) << r->output;
  ExpectAnswers(r->output, DefaultProfileAnswers(), "default container");
  // The way an attacker would type it.
  RunResult sh = Sh("unshare -U -r cat /proc/self/uid_map; echo status=$?");
  EXPECT_THAT(sh.output, HasSubstr("Operation not permitted"));
  EXPECT_THAT(sh.output, ::testing::Not(HasSubstr("status=0")));
}

TEST_F(EscapeTest, DefaultContainerUnderTinyInitIsFilteredTheSame) {
  runtime::ContainerSpec spec = BusyboxSpec({kProbe});
  spec.init = runtime::InitMode::kTinyInit;
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectAnswers(r->output, DefaultProfileAnswers(), "command under the tiny init");
}

TEST_F(EscapeTest, AnAttachedProcessIsFilteredTheSame) {
  runtime::AttachSpec attach;
  attach.command = {kProbe};
  ExpectAnswers(RunAttached(BusyboxSpec({}), attach), DefaultProfileAnswers(), "attached process");
}

TEST_F(EscapeTest, BootContainerMayNestUserNamespacesAndUseClone3ButNotTheRest) {
  auto r = Run(BootSpec({kProbe}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_status, 0) << r->output;
  ExpectAnswers(r->output, BootProfileAnswers(), "boot container");
  // What systemd does for PrivateUsers=.
  auto sh = Run(BootSpec({"/bin/sh", "-c", "unshare -U -r cat /proc/self/uid_map; echo status=$?"}));
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_THAT(sh->output, HasSubstr("status=0")) << sh->output;
}

TEST_F(EscapeTest, NoProcessHasInheritableOrAmbientCapabilities) {
  const std::string script = "grep -E '^(CapInh|CapAmb|CapBnd):' /proc/self/status";
  auto check = [](const std::string& output, const std::string& who) {
    std::map<std::string, std::string> f = StatusFields(output);
    ASSERT_EQ(f.count("CapInh"), 1u) << who << ": " << output;
    EXPECT_EQ(runtime::ParseCapabilityMask(f["CapInh"]), 0u) << who << " CapInh " << f["CapInh"];
    EXPECT_EQ(runtime::ParseCapabilityMask(f["CapAmb"]), 0u) << who << " CapAmb " << f["CapAmb"];
    EXPECT_NE(runtime::ParseCapabilityMask(f["CapBnd"]), 0u) << who << " CapBnd " << f["CapBnd"];
  };
  check(Sh(script).output, "root PID 1");
  runtime::ContainerSpec user = BusyboxSpec({"/bin/sh", "-c", script});
  user.uid = 1000;
  user.gid = 1000;
  auto r = Run(user);
  ASSERT_TRUE(r.ok()) << r.status();
  check(r->output, "uid 1000 PID 1");
  auto boot = Run(BootSpec({"/bin/sh", "-c", script}));
  ASSERT_TRUE(boot.ok()) << boot.status();
  check(boot->output, "boot PID 1");
  runtime::AttachSpec attach;
  attach.command = {"/bin/sh", "-c", script};
  check(RunAttached(BusyboxSpec({}), attach), "attached root process");
  attach.uid = 1000;
  attach.gid = 1000;
  check(RunAttached(BusyboxSpec({}), attach), "attached uid 1000 process");
}

// The runtime's caller (an admin's shell through sudo, a service) has supplementary groups; a
// container must not inherit them.
TEST_F(EscapeTest, TheCallersSupplementaryGroupsDoNotReachTheContainer) {
  std::vector<gid_t> saved(static_cast<size_t>(::getgroups(0, nullptr)));
  ASSERT_EQ(::getgroups(static_cast<int>(saved.size()), saved.data()), static_cast<int>(saved.size()));
  const gid_t borrowed[] = {4, 27, 100};  // adm, sudo, users on Debian
  ASSERT_EQ(::setgroups(3, borrowed), 0);
  const std::string script = "grep '^Groups:' /proc/self/status";
  RunResult root = Sh(script);
  runtime::ContainerSpec user_spec = BusyboxSpec({"/bin/sh", "-c", script});
  user_spec.uid = 1000;
  user_spec.gid = 1001;
  auto user = Run(user_spec);
  runtime::AttachSpec attach;
  attach.command = {"/bin/sh", "-c", script};
  std::string attached = RunAttached(BusyboxSpec({}), attach);
  auto boot = Run(BootSpec({"/bin/sh", "-c", script}));
  ASSERT_EQ(::setgroups(saved.size(), saved.data()), 0);
  EXPECT_EQ(StatusFields(root.output)["Groups"], "") << root.output;
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(StatusFields(user->output)["Groups"], "1001") << user->output;
  EXPECT_EQ(StatusFields(attached)["Groups"], "") << attached;
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_EQ(StatusFields(boot->output)["Groups"], "") << boot->output;
}

// Runs SetGroupsInChild(0, 0) in a child in a new user namespace whose setgroups is "deny"
// (as an unprivileged creator would leave it; root inside mapped to us), holding `groups`
// from before; returns its result (0 or an errno).
int SetGroupsWhereDenied(const std::vector<gid_t>& groups) {
  int ready[2], go[2];  // child -> parent: unshared; parent -> child: maps written
  if (::pipe2(ready, O_CLOEXEC) != 0) return -1;
  if (::pipe2(go, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    ::close(go[1]);
    if (::setgroups(groups.size(), groups.data()) != 0 || ::unshare(CLONE_NEWUSER) != 0) ::_exit(200);
    char c;
    if (::write(ready[1], "u", 1) != 1 || ::read(go[0], &c, 1) != 1) ::_exit(201);
    ::_exit(runtime::SetGroupsInChild(0, 0));
  }
  ::close(ready[1]);
  ::close(go[0]);
  char c;
  bool ok = ::read(ready[0], &c, 1) == 1;
  std::string proc = absl::StrCat("/proc/", pid);
  ok = ok && WriteExistingFile(proc + "/setgroups", "deny").ok() && WriteExistingFile(proc + "/uid_map", "0 0 1\n").ok() &&
       WriteExistingFile(proc + "/gid_map", "0 0 1\n").ok();
  if (ok) ok = ::write(go[1], "g", 1) == 1;
  ::close(ready[0]);
  ::close(go[1]);  // the child's read ends either way
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!ok) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Where setgroups cannot be called, holding no group already is what root should have; holding
// one it should not is an error, never silently kept.
TEST_F(EscapeTest, SetgroupsDeniedInAUserNamespaceIsFineOnlyWhenNothingIsHeld) {
  EXPECT_EQ(SetGroupsWhereDenied({}), 0);
  EXPECT_EQ(SetGroupsWhereDenied({4}), EPERM);
}

// ---- the image store ----

// Runs `argv` as user nobody (uid/gid 65534, no groups) and returns its output, or
// "exec <ERRNO>" when it cannot be run.
std::string RunAsNobody(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(126);
    }
    ::execv(args[0], args.data());
    ::dprintf(1, "exec %s\n", strerrorname_np(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out = ReadAll(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

bool NoNewPrivs() {
  auto status = ReadFile("/proc/self/status");
  return status.ok() && absl::StrContains(*status, "NoNewPrivs:\t1");
}

// moby's CVE-2021-41091: an image's setuid binary, run by another user straight from the
// store's path, gave euid 0 on the host.
TEST(ImageStoreEscapeTest, ASetuidBinaryInAnImportedImageIsOutOfReachOfOtherUsers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: chown, setuid bits, setuid()";
  char tmpl[] = "/tmp/corral-store-it.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string top = tmpl;
  ASSERT_EQ(::chmod(top.c_str(), 0755), 0);  // as /var/lib: anyone may walk through
  std::string src = top + "/src", store = top + "/images", tarball = top + "/suid.tar";
  ASSERT_TRUE(MakeDirectories(src + "/etc", 0755).ok());
  ASSERT_TRUE(MakeDirectories(src + "/bin", 0755).ok());
  auto probe = ReadFile("tests/isolation_probe");
  ASSERT_TRUE(probe.ok()) << probe.status();
  ASSERT_TRUE(WriteFileAtomically(src + "/bin/probe", *probe, 0755).ok());
  ASSERT_EQ(::chown((src + "/bin/probe").c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod((src + "/bin/probe").c_str(), 04755), 0);
  ASSERT_TRUE(images::RunProgram({"tar", "-C", src, "-cf", tarball, "."}).ok());

  auto rootfs = images::ImportTarball(store, "suid", tarball);
  ASSERT_TRUE(rootfs.ok()) << rootfs.status();
  std::string binary = *rootfs + "/bin/probe";
  // The image keeps its setuid binary (a container may need it) ...
  EXPECT_EQ(ModeOf(binary), 04755u);
  // ... but the store is root's alone, and so is the image.
  EXPECT_EQ(ModeOf(store), 0700u);
  EXPECT_EQ(ModeOf(store + "/suid"), 0700u);
  EXPECT_EQ(RunAsNobody({binary, "euid"}), "exec EACCES\n");

  // The attack is real where the path is open: the same binary as nobody is euid 0 (the test
  // would prove nothing if this host stopped setuid anyway).
  if (!NoNewPrivs()) {
    ASSERT_EQ(::chmod(store.c_str(), 0755), 0);
    ASSERT_EQ(::chmod((store + "/suid").c_str(), 0755), 0);
    EXPECT_EQ(RunAsNobody({binary, "euid"}), "euid 0\n");
    // An older corral's store, opened like this, is shut again by the next import; the image's
    // own directory is enough even while the store directory (the caller's) stays open.
    ASSERT_TRUE(images::ImportTarball(store, "suid", tarball).ok());
    EXPECT_EQ(ModeOf(store + "/suid"), 0700u);
    EXPECT_EQ(RunAsNobody({binary, "euid"}), "exec EACCES\n");
  }
  EXPECT_TRUE(RemoveTree(top).ok());
}

}  // namespace
}  // namespace corral::testing
