#include "tests/container_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "tools/images/busybox_image.h"

namespace corral::testing {

std::string* ContainerTest::temp_dir_ = nullptr;
std::string* ContainerTest::rootfs_ = nullptr;
std::string* ContainerTest::idmap_config_ = nullptr;

void ContainerTest::SetUpTestSuite() {
  if (::geteuid() != 0) return;
  char tmpl[] = "/tmp/corral-it.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  temp_dir_ = new std::string(tmpl);
  // World-searchable, so a container in a user namespace (mapped to an unprivileged uid) can
  // reach its rootfs.
  ASSERT_EQ(::chmod(tmpl, 0755), 0);
  auto rootfs = images::BuildBusyboxImage(*temp_dir_);
  ASSERT_TRUE(rootfs.ok()) << rootfs.status();
  // The image store makes every image directory root's alone (0700); this test image is no
  // store's, and the user-namespace tests reach their rootfs by path as an unprivileged uid.
  ASSERT_EQ(::chmod((*temp_dir_ + "/busybox").c_str(), 0711), 0);
  rootfs_ = new std::string(*rootfs);
  // corral-run takes every container's uids from a pool recorded under /var/lib/corral unless
  // told otherwise: every test binary gets a pool of its own here (a test may point
  // CORRAL_IDMAP_CONFIG elsewhere and put this one back with RestoreIdPool()).
  idmap_config_ = new std::string(*temp_dir_ + "/idmap.conf");
  ASSERT_TRUE(WriteFileAtomically(*idmap_config_, "range = 4194304 4194304\nstate_dir = " + *temp_dir_ +
                                                      "/idmap\nsubuid =\nsubgid =\n")
                  .ok());
  if (::getenv("CORRAL_IDMAP_CONFIG") == nullptr) ::setenv("CORRAL_IDMAP_CONFIG", idmap_config_->c_str(), 1);
  for (const char* name : {"syscall_probe", "open_probe"}) {
    auto probe = ReadFile(std::string("tests/") + name);
    ASSERT_TRUE(probe.ok()) << probe.status();
    std::string inside = *rootfs_ + "/bin/" + name;
    ASSERT_TRUE(WriteFileAtomically(inside, *probe, 0755).ok());
    ASSERT_EQ(::chmod(inside.c_str(), 0755), 0);
  }
}

void ContainerTest::RestoreIdPool() {
  if (idmap_config_ != nullptr) ::setenv("CORRAL_IDMAP_CONFIG", idmap_config_->c_str(), 1);
}

void ContainerTest::TearDownTestSuite() {
  if (idmap_config_ != nullptr) {
    if (const char* v = ::getenv("CORRAL_IDMAP_CONFIG"); v != nullptr && *idmap_config_ == v) {
      ::unsetenv("CORRAL_IDMAP_CONFIG");
    }
    delete idmap_config_;
    idmap_config_ = nullptr;
  }
  if (temp_dir_ != nullptr) {
    EXPECT_TRUE(RemoveTree(*temp_dir_).ok());
    delete temp_dir_;
    delete rootfs_;
    temp_dir_ = rootfs_ = nullptr;
  }
}

void ContainerTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates namespaces and mounts";
  ASSERT_NE(rootfs_, nullptr);
  mounts_before_ = CurrentMounts();
}

void ContainerTest::TearDown() {
  if (::geteuid() != 0 || IsSkipped()) return;
  EXPECT_EQ(CurrentMounts(), mounts_before_) << "a mount was left behind in the host namespace";
  // Every container and attached process must have been reaped.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD) << "a child process was left behind";
}

runtime::ContainerSpec ContainerTest::BusyboxSpec(std::vector<std::string> command) const {
  runtime::ContainerSpec spec;
  spec.name = "it";
  spec.hostname = "it-host";
  spec.rootfs = *rootfs_;
  spec.command = std::move(command);
  return spec;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::StatusOr<RunResult> ContainerTest::Run(const runtime::ContainerSpec& spec) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  UniqueFd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  runtime::StartOptions options;
  options.stdio[0] = null_in.get();
  options.stdio[1] = write_end.get();
  options.stdio[2] = write_end.get();
  absl::StatusOr<runtime::Container> container = runtime::Container::Start(spec, options);
  write_end.reset();
  if (!container.ok()) return container.status();
  RunResult result;
  result.output = ReadAll(read_end.get());
  absl::StatusOr<int> status = container->Wait();
  if (!status.ok()) return status.status();
  result.exit_status = *status;
  return result;
}

RunResult ContainerTest::Sh(const std::string& script) {
  absl::StatusOr<RunResult> result = Run(BusyboxSpec({"/bin/sh", "-c", script}));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : RunResult{};
}

std::vector<std::string> CurrentMounts() {
  std::vector<std::string> mounts;
  auto text = ReadFile("/proc/self/mountinfo");
  if (!text.ok()) return mounts;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4) mounts.emplace_back(fields[4]);
  }
  return mounts;
}

pid_t StartCli(const std::vector<std::string>& args, int* output_fd, const CliOptions& options) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    if (options.as_uid >= 0 && (::setgid(options.as_uid) != 0 || ::setuid(options.as_uid) != 0)) ::_exit(99);
    std::vector<char*> argv = {const_cast<char*>(options.binary)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(options.binary, argv.data());
    ::_exit(98);
  }
  ::close(fds[1]);
  *output_fd = fds[0];
  return pid;
}

CliResult FinishCli(pid_t pid, int output_fd) {
  CliResult result;
  result.output = ReadAll(output_fd);
  ::close(output_fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CliResult RunCli(const std::vector<std::string>& args, const CliOptions& options) {
  int fd = -1;
  pid_t pid = StartCli(args, &fd, options);
  return FinishCli(pid, fd);
}

}  // namespace corral::testing
