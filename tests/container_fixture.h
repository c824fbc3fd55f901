// Test fixture for privileged integration tests: a busybox rootfs built once per test binary
// in a temp dir (with the static syscall_probe and open_probe in /bin), and helpers to run a
// container and capture its output. Tests using it skip when not root.
#ifndef CORRAL_TESTS_CONTAINER_FIXTURE_H_
#define CORRAL_TESTS_CONTAINER_FIXTURE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "runtime/container.h"
#include "runtime/spec.h"

namespace corral::testing {

struct RunResult {
  int exit_status = -1;
  std::string output;  // stdout and stderr together
};

class ContainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  // A spec for the shared busybox rootfs running `command`.
  runtime::ContainerSpec BusyboxSpec(std::vector<std::string> command) const;
  // Starts `spec`, captures output until exit, waits. Errors from Start come back as status.
  absl::StatusOr<RunResult> Run(const runtime::ContainerSpec& spec);
  // Runs `sh -c script` in a default busybox container.
  RunResult Sh(const std::string& script);

  // Points CORRAL_IDMAP_CONFIG back at the test binary's own uid pool (set for the whole
  // binary by SetUpTestSuite, so no corral-run a test starts touches the host's
  // /var/lib/corral), after a test pointed it at another.
  static void RestoreIdPool();

  static const std::string& rootfs() { return *rootfs_; }
  static const std::string& temp_dir() { return *temp_dir_; }

  // Mount lines of the test process when the test started: nothing may be left afterwards.
  std::vector<std::string> mounts_before_;

 private:
  static std::string* temp_dir_;
  static std::string* rootfs_;
  static std::string* idmap_config_;
};

// This process's mount table, one "mountpoint fstype" per line.
std::vector<std::string> CurrentMounts();

// Reads everything from `fd` until EOF.
std::string ReadAll(int fd);

// The corral-run binary as the tests' runfiles have it (data = ["//tools:corral-run"]).
inline constexpr char kCorralRun[] = "tools/corral-run";

// corral-run run as a person would, stdin /dev/null, stdout and stderr captured together.
struct CliResult {
  int exit_status = -1;  // the exit code, or 128 + the signal that killed it
  std::string output;
};
struct CliOptions {
  int as_uid = -1;                    // >= 0: drop to that uid (and gid) first
  const char* binary = kCorralRun;    // another copy of corral-run
};
// Starts it; its output comes on *output_fd. Finish with FinishCli.
pid_t StartCli(const std::vector<std::string>& args, int* output_fd, const CliOptions& options = {});
// Reads the output to EOF, closes it, reaps the process.
CliResult FinishCli(pid_t pid, int output_fd);
CliResult RunCli(const std::vector<std::string>& args, const CliOptions& options = {});

}  // namespace corral::testing

#endif  // CORRAL_TESTS_CONTAINER_FIXTURE_H_
