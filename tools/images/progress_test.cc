#include "tools/images/progress.h"

#include <fcntl.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace corral::images {
namespace {

TEST(Progress, Formats) {
  EXPECT_EQ(FormatProgress("importing web", 120000000, 300000000, 12500000), "importing web  120.0 MB / 300.0 MB  40%  0:12");
  EXPECT_EQ(FormatProgress("importing web", 400, 300, 0), "importing web  0.0 MB / 0.0 MB  100%  0:00");
  EXPECT_EQ(FormatProgress("debootstrap", 0, 0, 3723000000), "debootstrap  1:02:03");
  EXPECT_EQ(FormatProgress("reading", 2500000, 0, 61000000), "reading  2.5 MB  1:01");
}

TEST(Progress, DebootstrapPhases) {
  EXPECT_EQ(*DebootstrapPhase("I: Retrieving libc6 2.36-9"), "retrieving libc6 2.36-9");
  EXPECT_EQ(*DebootstrapPhase("I: Base system installed successfully."), "base system installed successfully");
  EXPECT_FALSE(DebootstrapPhase("W: Cannot check Release signature").has_value());
  EXPECT_FALSE(DebootstrapPhase("plain output").has_value());
  EXPECT_EQ(DebootstrapPhase("I: " + std::string(100, 'x'))->size(), 60u);
}

TEST(Progress, ReadPositionOfThisProcess) {
  char path[] = "/tmp/progress_test.XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "0123456789", 10), 10);
  ASSERT_EQ(::lseek(fd, 7, SEEK_SET), 7);
  EXPECT_EQ(ReadPosition(::getpid(), path).value_or(0), 7u);
  EXPECT_FALSE(ReadPosition(::getpid(), "/nonexistent").has_value());
  ::close(fd);
  ::unlink(path);
}

}  // namespace
}  // namespace corral::images
