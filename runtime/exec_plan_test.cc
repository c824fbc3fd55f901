// ExecPlan (pure): argv, environment, PATH search directories and credentials prepared in the
// parent for the child's execve.
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/exec.h"

namespace corral::runtime {
namespace {

std::vector<std::string> Strings(const std::vector<char*>& pointers) {
  std::vector<std::string> out;
  for (char* p : pointers) {
    if (p != nullptr) out.emplace_back(p);
  }
  return out;
}

TEST(MakeExecPlanTest, DefaultsForRoot) {
  ExecOptions options;
  options.command = {"/bin/sh", "-c", "echo hi"};
  ExecPlan plan = MakeExecPlan(options);
  ASSERT_EQ(plan.argv.size(), 4u);
  EXPECT_EQ(plan.argv.back(), nullptr) << "argv is null-terminated";
  EXPECT_EQ(Strings(plan.argv), options.command);
  ASSERT_FALSE(plan.envp.empty());
  EXPECT_EQ(plan.envp.back(), nullptr) << "envp is null-terminated";
  EXPECT_EQ(Strings(plan.envp), (std::vector<std::string>{
                                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                    "HOME=/root", "container=corral"}));
  EXPECT_EQ(plan.path_dirs, (std::vector<std::string>{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
                                                      "/sbin", "/bin"}));
  EXPECT_EQ(plan.cwd, "/");
  EXPECT_EQ(plan.uid, 0u);
  EXPECT_TRUE(plan.no_new_privs);
  EXPECT_FALSE(plan.seccomp.has_value());
}

TEST(MakeExecPlanTest, CallerValuesReplaceDefaultsKeyByKeyInOrder) {
  ExecOptions options;
  options.command = {"env"};
  options.uid = 1000;
  options.gid = 1001;
  options.tty = true;
  options.cwd = "/work";
  options.no_new_privs = false;
  options.env = {"FOO=bar", "PATH=/opt/bin::/bin", "HOME=/home/u", "EMPTY=", "NOEQUALS", "FOO=baz", "X=a=b"};
  ExecPlan plan = MakeExecPlan(options);
  EXPECT_EQ(Strings(plan.envp), (std::vector<std::string>{"PATH=/opt/bin::/bin", "HOME=/home/u", "container=corral",
                                                          "TERM=xterm", "FOO=baz", "EMPTY=", "NOEQUALS=", "X=a=b"}));
  EXPECT_EQ(plan.path_dirs, (std::vector<std::string>{"/opt/bin", "/bin"})) << "empty PATH entries are skipped";
  EXPECT_EQ(plan.cwd, "/work");
  EXPECT_EQ(plan.uid, 1000u);
  EXPECT_EQ(plan.gid, 1001u);
  EXPECT_FALSE(plan.no_new_privs);
}

TEST(MakeExecPlanTest, NonRootHomeAndEmptyCwd) {
  ExecOptions options;
  options.command = {"id"};
  options.uid = 65534;
  options.cwd = "";
  ExecPlan plan = MakeExecPlan(options);
  EXPECT_EQ(Strings(plan.envp)[1], "HOME=/");
  EXPECT_EQ(plan.cwd, "/");
}

TEST(MakeExecPlanTest, PointersStayValidWhenThePlanMoves) {
  ExecOptions options;
  // Short strings live inside std::string (SSO): a move of the vector keeps its buffer.
  options.command = {"a", "b"};
  ExecPlan plan = MakeExecPlan(options);
  ExecPlan moved = std::move(plan);
  ASSERT_EQ(moved.argv.size(), 3u);
  EXPECT_STREQ(moved.argv[0], "a");
  EXPECT_EQ(moved.argv[0], moved.argv_storage[0].data());
  EXPECT_EQ(moved.envp[0], moved.env_storage[0].data());
}

}  // namespace
}  // namespace corral::runtime
