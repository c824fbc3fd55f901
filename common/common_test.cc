#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace corral {
namespace {

std::string MakeTempDir() {
  char tmpl[] = "/tmp/corral-common-test.XXXXXX";
  char* dir = ::mkdtemp(tmpl);
  EXPECT_NE(dir, nullptr);
  return dir;
}

TEST(UniqueFdTest, ClosesOnDestructionAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b = std::move(a);
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(ErrorsTest, ErrnoErrorNamesStepAndErrno) {
  absl::Status status = ErrnoError(ENOENT, "open /nope");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "open /nope: No such file or directory (ENOENT)");
  EXPECT_EQ(ErrnoError(EPERM, "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Annotate(status, "start").message(), "start: open /nope: No such file or directory (ENOENT)");
}

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::Status UseMacros(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  RETURN_IF_ERROR(h > 10 ? absl::OutOfRangeError("big") : absl::OkStatus());
  *out = h;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateErrors) {
  int out = 0;
  EXPECT_TRUE(UseMacros(8, &out).ok());
  EXPECT_EQ(out, 4);
  EXPECT_EQ(UseMacros(7, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UseMacros(40, &out).code(), absl::StatusCode::kOutOfRange);
}

TEST(FilesTest, WriteAtomicallyReadBackAndRemoveTree) {
  std::string dir = MakeTempDir();
  ASSERT_TRUE(MakeDirectories(dir + "/a/b/c").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/a/b/c/f", "hello").ok());
  auto contents = ReadFile(dir + "/a/b/c/f");
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(*contents, "hello");
  ASSERT_TRUE(::symlink("/etc", (dir + "/a/link").c_str()) == 0);
  ASSERT_TRUE(RemoveTree(dir).ok());
  struct stat st;
  EXPECT_NE(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(::stat("/etc/hostname", &st), 0) << "RemoveTree followed a symlink";
  EXPECT_EQ(ReadFile(dir + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(FilesTest, MakeDirectoriesOverFileFails) {
  std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteFileAtomically(dir + "/f", "x").ok());
  EXPECT_FALSE(MakeDirectories(dir + "/f").ok());
  ASSERT_TRUE(RemoveTree(dir).ok());
}

}  // namespace
}  // namespace corral

namespace corral {
namespace {

// corrald's loop never waits on a lock another process holds: Take answers Unavailable at once.
TEST(FileLockTest, NonBlockingTakeAnswersUnavailableWhileHeldElsewhere) {
  std::string path = absl::StrCat(::testing::TempDir(), "/lock-", ::getpid());
  UniqueFd other(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(other.valid());
  ASSERT_EQ(::flock(other.get(), LOCK_EX), 0);  // another open file description: another holder
  FileLock::SetNonBlocking(true);
  absl::StatusOr<FileLock> taken = FileLock::Take(path);
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnavailable) << taken.status();
  ::flock(other.get(), LOCK_UN);
  EXPECT_TRUE(FileLock::Take(path).ok());
  FileLock::SetNonBlocking(false);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace corral
