// The start handshake's messages (child_sync.h) over a real socket pair in one process: the go
// with and without its fd, a parent that gave up, the exec outcome and an error record.
#include "runtime/child_sync.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "runtime/child_error.h"

namespace corral::runtime {
namespace {

TEST(ChildSyncTest, GoCarriesTheRootfsTreeInItsSlot) {
  absl::StatusOr<ChildSync> sync = ChildSync::Open();
  ASSERT_TRUE(sync.ok()) << sync.status();
  UniqueFd file(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  GoFds sent;
  sent[GoFd::kRootfsTree] = file.get();
  ASSERT_TRUE(sync->SendGo(sent).ok());
  GoFds received;
  ASSERT_EQ(ReceiveGoInChild(sync->child_end(), &received), 0);
  UniqueFd got(received[GoFd::kRootfsTree]);
  ASSERT_TRUE(got.valid());
  struct stat a, b;
  ASSERT_EQ(::fstat(file.get(), &a), 0);
  ASSERT_EQ(::fstat(got.get(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_NE(::fcntl(got.get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST(ChildSyncTest, GoWithoutFdsLeavesTheSlotsEmpty) {
  absl::StatusOr<ChildSync> sync = ChildSync::Open();
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(sync->SendGo(GoFds()).ok());
  GoFds received;
  ASSERT_EQ(ReceiveGoInChild(sync->child_end(), &received), 0);
  EXPECT_EQ(received[GoFd::kRootfsTree], -1);
}

TEST(ChildSyncTest, AParentThatGaveUpIsSeen) {
  absl::StatusOr<ChildSync> sync = ChildSync::Open();
  ASSERT_TRUE(sync.ok());
  int child = ::dup(sync->child_end());
  *sync = *ChildSync::Open();  // the first pair's parent end closes
  GoFds received;
  EXPECT_EQ(ReceiveGoInChild(child, &received), EPIPE);
  ::close(child);
}

TEST(ChildSyncTest, ExecClosingTheChildEndIsSuccess) {
  absl::StatusOr<ChildSync> sync = ChildSync::Open();
  ASSERT_TRUE(sync.ok());
  sync->CloseChildEnd();
  bool failed = true;
  EXPECT_TRUE(sync->AwaitExec(&failed).ok());
  EXPECT_FALSE(failed);
}

TEST(ChildSyncTest, AnErrorRecordBecomesTheStatus) {
  absl::StatusOr<ChildSync> sync = ChildSync::Open();
  ASSERT_TRUE(sync.ok());
  ReportChildError(sync->child_end(), "pivot_root", "/rootfs", EINVAL);
  sync->CloseChildEnd();
  bool failed = false;
  absl::Status status = sync->AwaitExec(&failed);
  EXPECT_TRUE(failed);
  EXPECT_NE(status.message().find("pivot_root"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("/rootfs"), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace corral::runtime
