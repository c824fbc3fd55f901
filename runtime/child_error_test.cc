// The report of a failed step between clone and exec, as the parent turns it into a Status.
#include "runtime/child_error.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

ChildError Record(const char* step, const char* path, int err, bool is_exec) {
  ChildError record;
  record.err = err;
  record.is_exec = is_exec ? 1 : 0;
  CopyBounded(record.step, sizeof(record.step), step);
  CopyBounded(record.path, sizeof(record.path), path);
  return record;
}

TEST(ChildErrorToStatusTest, NamesStepPathAndErrno) {
  absl::Status status = ChildErrorToStatus(Record("mount /proc", "/r/proc", EPERM, false));
  EXPECT_FALSE(status.ok());
  std::string message(status.message());
  EXPECT_NE(message.find("mount /proc `/r/proc`"), std::string::npos) << message;
  EXPECT_NE(message.find(strerror(EPERM)), std::string::npos) << message;
  EXPECT_FALSE(IsExecFailure(status)) << "a setup step is no exec failure";
}

TEST(ChildErrorToStatusTest, WithoutAPathOnlyTheStep) {
  absl::Status status = ChildErrorToStatus(Record("pivot_root", "", EINVAL, false));
  std::string message(status.message());
  EXPECT_EQ(message.find('`'), std::string::npos) << message;
  EXPECT_EQ(message.rfind("pivot_root", 0), 0u) << message;
}

TEST(ChildErrorToStatusTest, MissingCommandIsNotFoundAndAnExecFailure) {
  absl::Status status = ChildErrorToStatus(Record("exec", "/bin/nope", ENOENT, true));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("command not found in the container: `/bin/nope`"), absl::string_view::npos)
      << status.message();
  EXPECT_TRUE(IsExecFailure(status));
}

TEST(ChildErrorToStatusTest, NotExecutableIsAnExecFailureWithItsErrno) {
  absl::Status status = ChildErrorToStatus(Record("exec", "/etc/passwd", EACCES, true));
  EXPECT_TRUE(IsExecFailure(status));
  EXPECT_NE(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find(strerror(EACCES)), absl::string_view::npos) << status.message();
  EXPECT_TRUE(status.GetPayload(kExecFailurePayload).has_value());
}

TEST(ChildErrorToStatusTest, OverlongStepAndPathAreCutAndTerminated) {
  std::string long_path(1000, 'p');
  ChildError record = Record(std::string(200, 's').c_str(), long_path.c_str(), EIO, false);
  EXPECT_EQ(std::strlen(record.step), sizeof(record.step) - 1);
  EXPECT_EQ(std::strlen(record.path), sizeof(record.path) - 1);
  absl::Status status = ChildErrorToStatus(record);
  EXPECT_NE(status.message().find(std::string(sizeof(record.path) - 1, 'p')), absl::string_view::npos);
  CopyBounded(record.step, sizeof(record.step), nullptr);
  EXPECT_STREQ(record.step, "");
}

TEST(ChildErrorToStatusTest, ReportChildErrorWritesOneWholeRecord) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ReportChildError(fds[1], "set up /dev", "/r/dev/null", ENODEV, false);
  ::close(fds[1]);
  ChildError read_back;
  ASSERT_EQ(::read(fds[0], &read_back, sizeof(read_back)), static_cast<ssize_t>(sizeof(read_back)));
  ::close(fds[0]);
  EXPECT_EQ(read_back.err, ENODEV);
  EXPECT_STREQ(read_back.step, "set up /dev");
  EXPECT_STREQ(read_back.path, "/r/dev/null");
  EXPECT_EQ(read_back.is_exec, 0);
}

}  // namespace
}  // namespace corral::runtime
