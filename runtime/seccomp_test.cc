#include "runtime/seccomp.h"
#include "runtime/seccomp_compiler.h"

#include <errno.h>
#include <linux/keyctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

TEST(SeccompTest, DeniedListIsTheDocumentedOne) {
  const auto& denied = DefaultDeniedSyscalls();
  for (const char* name : {"kexec_load", "init_module", "finit_module", "delete_module", "open_by_handle_at",
                           "swapon", "keyctl", "add_key", "request_key", "bpf", "perf_event_open"}) {
    EXPECT_NE(std::find(denied.begin(), denied.end(), name), denied.end()) << name;
  }
  // Things containers need must not be on it.
  for (const char* name : {"execve", "clone", "mount", "ptrace", "reboot", "setns", "unshare"}) {
    EXPECT_EQ(std::find(denied.begin(), denied.end(), name), denied.end()) << name;
  }
}

// The program embedded at build time is what libseccomp makes of the list now.
TEST(SeccompTest, EmbeddedProgramIsTheCompiledList) {
  auto compiled = CompileDefaultSeccompProgram();
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const SeccompProgram& embedded = DefaultSeccompProgram();
  ASSERT_EQ(embedded.instructions.size(), compiled->instructions.size());
  for (size_t i = 0; i < embedded.instructions.size(); ++i) {
    const sock_filter& a = embedded.instructions[i];
    const sock_filter& b = compiled->instructions[i];
    EXPECT_TRUE(a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k) << "instruction " << i;
  }
}

TEST(SeccompTest, EmbeddedProgramDeniesWithEpermInAChild) {
  const SeccompProgram* program = &DefaultSeccompProgram();
  EXPECT_GT(program->instructions.size(), 10u);
  // Installing a filter needs no privilege with no_new_privs; do it in a child so the test
  // process stays unfiltered.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || InstallSeccompProgram(*program) != 0) ::_exit(10);
    long rc = ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
    if (rc != -1 || errno != EPERM) ::_exit(11);
    rc = ::syscall(SYS_bpf, 0, nullptr, 0);
    if (rc != -1 || errno != EPERM) ::_exit(12);
    if (::getpid() <= 0) ::_exit(13);  // allowed syscalls still work
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: install failed, 11: keyctl not EPERM, 12: bpf not EPERM";
}

}  // namespace
}  // namespace corral::runtime
