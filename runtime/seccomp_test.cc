#include "runtime/seccomp.h"
#include "runtime/seccomp_compiler.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "gtest/gtest.h"
#include "runtime/spec.h"

namespace corral::runtime {
namespace {

TEST(SeccompTest, DeniedListIsTheDocumentedOne) {
  const auto& denied = DefaultDeniedSyscalls();
  for (const char* name : {"kexec_load", "init_module", "finit_module", "delete_module", "open_by_handle_at",
                           "swapon", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
                           "io_uring_setup", "io_uring_enter", "io_uring_register"}) {
    EXPECT_NE(std::find(denied.begin(), denied.end(), name), denied.end()) << name;
  }
  // Things containers need must not be on it (clone and unshare are filtered by their flags).
  for (const char* name : {"execve", "clone", "clone3", "mount", "ptrace", "reboot", "setns", "unshare", "socket"}) {
    EXPECT_EQ(std::find(denied.begin(), denied.end(), name), denied.end()) << name;
  }
}

// The programs embedded at build time are what libseccomp makes of the rules now.
void ExpectSameProgram(const SeccompProgram& embedded, SeccompProfile profile) {
  auto compiled = CompileSeccompProgram(profile);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  ASSERT_EQ(embedded.instructions.size(), compiled->instructions.size()) << SeccompProfileName(profile);
  for (size_t i = 0; i < embedded.instructions.size(); ++i) {
    const sock_filter& a = embedded.instructions[i];
    const sock_filter& b = compiled->instructions[i];
    EXPECT_TRUE(a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k)
        << SeccompProfileName(profile) << " instruction " << i;
  }
}

TEST(SeccompTest, EmbeddedDefaultProgramIsTheCompiledProfile) {
  ExpectSameProgram(DefaultSeccompProgram(), SeccompProfile::kDefault);
}

TEST(SeccompTest, EmbeddedBootProgramIsTheCompiledProfile) {
  ExpectSameProgram(BootSeccompProgram(), SeccompProfile::kBoot);
}

TEST(SeccompTest, TheProfileFollowsCapSysAdmin) {
  EXPECT_EQ(&SeccompProgramFor(DefaultCapabilities()), &DefaultSeccompProgram());
  EXPECT_EQ(&SeccompProgramFor({}), &DefaultSeccompProgram());
  EXPECT_EQ(&SeccompProgramFor(BootCapabilities()), &BootSeccompProgram());
  EXPECT_EQ(&SeccompProgramFor({CAP_SYS_ADMIN}), &BootSeccompProgram());
  EXPECT_NE(DefaultSeccompProgram().instructions.size(), BootSeccompProgram().instructions.size());
}

// Runs `body` in a forked child under `program` (no_new_privs makes installing it
// unprivileged; the test process stays unfiltered). The child's exit code is body's result.
int RunFiltered(const SeccompProgram& program, const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || InstallSeccompProgram(program) != 0) ::_exit(100);
    ::_exit(body());
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -2;
  return WEXITSTATUS(status);
}

// The errno of a call (0 when it succeeded; a child it made exits at once and is reaped).
int ErrnoOf(long rc) {
  if (rc < 0) return errno;
  return 0;
}

int CloneErrno(unsigned long flags) {
  long rc = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (rc == 0) ::_exit(0);
  if (rc > 0) ::waitpid(static_cast<pid_t>(rc), nullptr, 0);
  return ErrnoOf(rc);
}

int Clone3Errno() {
  struct clone_args args = {};
  args.exit_signal = SIGCHLD;
  long rc = ::syscall(SYS_clone3, &args, sizeof(args));
  if (rc == 0) ::_exit(0);
  if (rc > 0) ::waitpid(static_cast<pid_t>(rc), nullptr, 0);
  return ErrnoOf(rc);
}

int SocketErrno(long family, long type, long protocol) {
  long fd = ::syscall(SYS_socket, family, type, protocol);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return ErrnoOf(fd);
}

// Each check returns 0 when the call failed with `expected`, else a code saying which one.
int Expect(int code, int got, int expected) { return got == expected ? 0 : code; }

TEST(SeccompTest, DefaultProgramDeniesInAChild) {
  const SeccompProgram& program = DefaultSeccompProgram();
  EXPECT_GT(program.instructions.size(), 10u);
  int rc = RunFiltered(program, [] {
    if (int c = Expect(11, ErrnoOf(::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)), EPERM)) return c;
    if (int c = Expect(12, ErrnoOf(::syscall(SYS_bpf, 0, nullptr, 0)), EPERM)) return c;
    if (int c = Expect(13, ErrnoOf(::syscall(SYS_io_uring_setup, 1, nullptr)), EPERM)) return c;
    if (int c = Expect(14, ErrnoOf(::syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0)), EPERM)) return c;
    if (int c = Expect(15, ErrnoOf(::syscall(SYS_io_uring_register, -1, 0, nullptr, 0)), EPERM)) return c;
    if (int c = Expect(16, ErrnoOf(::syscall(SYS_unshare, CLONE_NEWUSER)), EPERM)) return c;
    if (int c = Expect(17, ErrnoOf(::syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS)), EPERM)) return c;
    if (int c = Expect(18, CloneErrno(CLONE_NEWUSER), EPERM)) return c;
    if (int c = Expect(19, Clone3Errno(), ENOSYS)) return c;
    if (int c = Expect(20, SocketErrno(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT)) return c;
    // The kernel reads the family as an int: the upper half of the register must not matter.
    if (int c = Expect(21, SocketErrno(0x100000000L | AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT)) return c;
    if (int c = Expect(22, SocketErrno(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), EPROTONOSUPPORT)) return c;
    if (int c = Expect(23, SocketErrno(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_AUDIT), EPROTONOSUPPORT)) return c;
    // Allowed things still work: a plain fork, other sockets, unshare without a user namespace
    // (EPERM there comes from the missing capability, not the filter: we are root here, so 0).
    if (int c = Expect(30, CloneErrno(0), 0)) return c;
    if (int c = Expect(31, SocketErrno(AF_UNIX, SOCK_STREAM, 0), 0)) return c;
    if (int c = Expect(32, SocketErrno(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), 0)) return c;
    if (::getpid() <= 0) return 33;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "100: install failed; 11-23: a call the profile denies got another answer; 30-33: an "
                      "allowed call failed (see the test for which)";
}

TEST(SeccompTest, BootProgramAllowsUserNamespacesAndClone3ButDeniesTheRest) {
  int rc = RunFiltered(BootSeccompProgram(), [] {
    if (int c = Expect(11, ErrnoOf(::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)), EPERM)) return c;
    if (int c = Expect(12, ErrnoOf(::syscall(SYS_bpf, 0, nullptr, 0)), EPERM)) return c;
    if (int c = Expect(13, ErrnoOf(::syscall(SYS_io_uring_setup, 1, nullptr)), EPERM)) return c;
    if (int c = Expect(20, SocketErrno(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT)) return c;
    if (int c = Expect(22, SocketErrno(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), EPROTONOSUPPORT)) return c;
    if (int c = Expect(30, CloneErrno(CLONE_NEWUSER), 0)) return c;
    if (int c = Expect(31, Clone3Errno(), 0)) return c;
    // Last: it moves this child into a new user namespace.
    if (int c = Expect(32, ErrnoOf(::syscall(SYS_unshare, CLONE_NEWUSER)), 0)) return c;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "100: install failed; 11-22: a call the profile denies got another answer; 30-32: a user "
                      "namespace or clone3 was refused";
}

}  // namespace
}  // namespace corral::runtime
