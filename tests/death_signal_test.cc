// No container without its manager (issue 13): the container's init is bound to the process
// that cloned it with PR_SET_PDEATHSIG(SIGKILL), so a corral-run (or a supervisor) killed with
// SIGKILL takes its container along, whatever the container's credentials (an unprivileged
// container's root, a --user, --privileged) and with or without the tiny init. Skips when not
// root.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "tests/container_fixture.h"

namespace corral::testing {
namespace {

// Reads one line from `fd` (at most 5 s), to know the container has started.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0 || ::read(fd, &c, 1) != 1 || c == '\n') return line;
    line.push_back(c);
  }
}

// The first child of `pid`.
pid_t ChildOf(pid_t pid) {
  absl::StatusOr<std::string> children = ReadFile(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  pid_t child = 0;
  if (!children.ok()) return 0;
  std::vector<std::string> words = absl::StrSplit(absl::StripAsciiWhitespace(*children), ' ', absl::SkipEmpty());
  if (words.empty() || !absl::SimpleAtoi(words[0], &child)) return 0;
  return child;
}

class DeathSignalTest : public ContainerTest, public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(DeathSignalTest, ContainerDiesWithCorralRunKilledBySigkill) {
  // --net none: nothing here may touch the host's network (the default is the bridge).
  std::vector<std::string> args = {"--rootfs", rootfs(), "--net", "none"};
  for (const std::string& a : GetParam()) args.push_back(a);
  for (const char* a : {"--", "sh", "-c", "echo up; exec sleep 1000"}) args.push_back(a);
  int output = -1;
  pid_t run = StartCli(args, &output);
  std::string line = ReadLine(output);
  pid_t container = ChildOf(run);
  UniqueFd pidfd(container > 0 ? sys::PidfdOpen(container, 0) : -1);
  if (line != "up" || !pidfd.valid()) {
    ::kill(run, SIGKILL);
    CliResult result = FinishCli(run, output);
    FAIL() << "the container did not start: " << line << result.output;
  }
  ASSERT_EQ(::kill(run, SIGKILL), 0);
  // The pidfd turns readable when the container's init has exited.
  pollfd p{pidfd.get(), POLLIN, 0};
  int ready = ::poll(&p, 1, 5000);
  if (ready <= 0) sys::PidfdSendSignal(pidfd.get(), SIGKILL, nullptr, 0);  // no stray sleep left
  EXPECT_EQ(ready, 1) << "the container (pid " << container << ") outlived corral-run";
  CliResult result = FinishCli(run, output);
  EXPECT_EQ(result.exit_status, 128 + SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(Credentials, DeathSignalTest,
                         ::testing::Values(std::vector<std::string>{}, std::vector<std::string>{"--init"},
                                           std::vector<std::string>{"--user", "1000"},
                                           std::vector<std::string>{"--init", "--user", "1000:1000"},
                                           std::vector<std::string>{"--privileged"},
                                           std::vector<std::string>{"--privileged", "--user", "1000"}));

}  // namespace
}  // namespace corral::testing
