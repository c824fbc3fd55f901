// Reconciliation without a bus or root: fake cgroup trees and run directories in a temp dir.
#include "dbus/reconcile.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/files.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

class ReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-reconcile-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }
  void Write(const std::string& path, const std::string& text) {
    ASSERT_TRUE(MakeDirectories(path.substr(0, path.rfind('/'))).ok());
    ASSERT_TRUE(WriteFileAtomically(path, text).ok());
  }
  std::string dir_;
};

// The state file is garbage, the scope is not: its supervisor leaf and its payload's child of
// that supervisor name the running container.
TEST_F(ReconcileTest, StateFromScopeFindsSupervisorAndLeader) {
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  std::string scope = dir_ + "/machine.slice/corral-web.scope";
  Write(scope + "/supervisor/cgroup.procs", std::to_string(::getpid()) + "\n");
  Write(scope + "/payload/cgroup.procs", "");
  Write(scope + "/payload/init.scope/cgroup.procs", std::to_string(child) + "\n");  // a booted init moved itself
  absl::StatusOr<SupervisorState> state = StateFromScope(dir_, "corral-web.scope");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->supervisor, ::getpid());
  EXPECT_EQ(state->leader, child);
  // No scope, or a supervisor without a container yet: not found.
  EXPECT_TRUE(absl::IsNotFound(StateFromScope(dir_, "corral-none.scope").status()));
  Write(dir_ + "/machine.slice/corral-half.scope/supervisor/cgroup.procs", "1\n");
  EXPECT_TRUE(absl::IsNotFound(StateFromScope(dir_, "corral-half.scope").status()));
}

TEST_F(ReconcileTest, FreesRunDirsAndNamesStrayScopes) {
  ReconcileInput input{dir_ + "/lib", dir_ + "/run", dir_ + "/cg", {"up", "down"}, {"up"}};
  Write(input.run_root + "/up/state", "supervisor=1\nleader=2\n");
  Write(input.run_root + "/down/state", "garbage");
  Write(input.run_root + "/down/exit-status", "0\n");
  Write(input.run_root + "/gone/state", "supervisor=1\nleader=2\n");
  Write(input.cgroup2_root + "/machine.slice/corral-up.scope/cgroup.events", "populated 1\nfrozen 0\n");
  Write(input.cgroup2_root + "/machine.slice/corral-down.scope/cgroup.events", "populated 1\nfrozen 0\n");
  Write(input.cgroup2_root + "/machine.slice/corral-empty.scope/cgroup.events", "populated 0\nfrozen 0\n");
  Write(input.cgroup2_root + "/machine.slice/corral-run-x-12.scope/cgroup.events", "populated 1\nfrozen 0\n");
  ReconcileResult result = ReconcileHost(input, "");
  struct stat st;
  EXPECT_EQ(::stat((input.run_root + "/up/state").c_str(), &st), 0) << "a running container's state stays";
  EXPECT_NE(::stat((input.run_root + "/down/state").c_str(), &st), 0) << "a stopped one's stale state goes";
  EXPECT_EQ(::stat((input.run_root + "/down/exit-status").c_str(), &st), 0);
  EXPECT_NE(::stat((input.run_root + "/gone").c_str(), &st), 0) << "an unknown name's run dir goes";
  EXPECT_EQ(result.stray_scopes, std::vector<std::string>{"corral-down.scope"});
  EXPECT_EQ(result.freed.size(), 2u);
}

TEST(MountPointsTest, UnderPrefixWithEscapes) {
  std::string mountinfo =
      "36 35 98:0 / /run/corral/containers/a/rootfs rw - overlay overlay rw\n"
      "37 35 98:0 / /run/corral/containers/b\\040c/lower ro - ext4 /dev/x ro\n"
      "38 35 98:0 / /run/corral/containersX/d rw - tmpfs tmpfs rw\n"
      "39 35 98:0 / /var/lib/corral/containers/e/vol rw - ext4 /dev/x rw\n";
  EXPECT_EQ(MountPointsUnder(mountinfo, "/run/corral/containers"),
            (std::vector<std::string>{"/run/corral/containers/a/rootfs", "/run/corral/containers/b c/lower"}));
}

}  // namespace
}  // namespace corral::dbus
