// corral-run as a user runs it: the whole binary, exit statuses, signals and bad input.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "tests/container_fixture.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kCorralRun[] = "tools/corral-run";

struct CliResult {
  int exit_status = -1;
  std::string output;
};

// Runs corral-run with `args`; `as_uid` >= 0 drops to that uid first; `signal_after_ms` sends
// SIGTERM to corral-run after that long.
CliResult RunCli(const std::vector<std::string>& args, int as_uid = -1, int signal_after_ms = -1,
                 const char* binary = kCorralRun) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    if (as_uid >= 0 && (::setgid(as_uid) != 0 || ::setuid(as_uid) != 0)) ::_exit(99);
    std::vector<char*> argv = {const_cast<char*>(binary)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(binary, argv.data());
    ::_exit(98);
  }
  ::close(fds[1]);
  if (signal_after_ms >= 0) {
    ::usleep(signal_after_ms * 1000);
    ::kill(pid, SIGTERM);
  }
  CliResult result;
  result.output = ReadAll(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

class CorralRunTest : public ContainerTest {};

TEST_F(CorralRunTest, RunsTheCommandAndPassesItsOutputAndStatus) {
  CliResult r = RunCli({"--rootfs", rootfs(), "--hostname", "cli", "--", "sh", "-c", "echo $$ $(hostname); exit 7"});
  EXPECT_EQ(r.exit_status, 7);
  EXPECT_EQ(r.output, "1 cli\n");
  EXPECT_EQ(RunCli({"--rootfs", rootfs(), "--", "/bin/true"}).exit_status, 0);
}

TEST_F(CorralRunTest, KilledCommandGives128PlusSignal) {
  // Under --init the shell is not PID 1, so it can be killed from inside.
  CliResult r = RunCli({"--rootfs", rootfs(), "--init", "--", "sh", "-c", "kill -9 $$"});
  EXPECT_EQ(r.exit_status, 137) << r.output;
}

TEST_F(CorralRunTest, SignalsToCorralRunReachTheContainer) {
  CliResult r = RunCli({"--rootfs", rootfs(), "--init", "--", "sleep", "100"}, -1, 300);
  EXPECT_EQ(r.exit_status, 128 + SIGTERM) << r.output;
}

TEST_F(CorralRunTest, MissingCommandExits127NamingIt) {
  CliResult r = RunCli({"--rootfs", rootfs(), "--", "no-such-binary"});
  EXPECT_EQ(r.exit_status, 127);
  EXPECT_THAT(r.output, HasSubstr("no-such-binary"));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST_F(CorralRunTest, BadInputIsOneLineAndNonZero) {
  struct Case {
    std::vector<std::string> args;
    const char* expect;
  };
  std::vector<Case> cases = {
      {{"--rootfs", "/nonexistent-corral", "--", "true"}, "does not exist"},
      {{"--rootfs", rootfs() + "/bin/busybox", "--", "true"}, "not a directory"},
      {{"--rootfs", rootfs(), "--hostname", "no_way", "--", "true"}, "invalid hostname"},
      {{"--rootfs", rootfs(), "--frobnicate", "--", "true"}, "unknown option"},
      {{"--", "true"}, "--rootfs is required"},
  };
  for (const Case& c : cases) {
    CliResult r = RunCli(c.args);
    EXPECT_EQ(r.exit_status, 125) << c.expect;
    EXPECT_THAT(r.output, HasSubstr(c.expect));
    EXPECT_TRUE(absl::StartsWith(r.output, "corral-run: ")) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST_F(CorralRunTest, NotRootIsRefused) {
  // A copy nobody can reach: Bazel's output tree is private to root.
  std::string copy = temp_dir() + "/corral-run";
  auto binary = ReadFile(kCorralRun);
  ASSERT_TRUE(binary.ok()) << binary.status();
  ASSERT_TRUE(WriteFileAtomically(copy, *binary, 0755).ok());
  ASSERT_EQ(::chmod(copy.c_str(), 0755), 0);
  CliResult r = RunCli({"--rootfs", rootfs(), "--", "true"}, /*as_uid=*/65534, -1, copy.c_str());
  ::unlink(copy.c_str());
  EXPECT_EQ(r.exit_status, 125);
  EXPECT_THAT(r.output, HasSubstr("must run as root"));
}

TEST_F(CorralRunTest, HelpWorks) {
  CliResult r = RunCli({"--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.output, HasSubstr("usage: corral-run --rootfs DIR"));
}

}  // namespace
}  // namespace corral::testing
