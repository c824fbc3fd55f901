// DirectorySyncs and WriteFileAtomically's hand-off to it: which directory fsyncs happen, and
// that a failed one is an error once joined.
#include "common/directory_syncs.h"

#include <stdlib.h>

#include <string>

#include "common/files.h"
#include "gtest/gtest.h"

namespace corral {
namespace {

class DirectorySyncsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-dirsync-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }
  std::string dir_;
};

TEST_F(DirectorySyncsTest, ACrashSafeWriteHandsItsDirectoryOverAndIsWhole) {
  DirectorySyncs syncs;
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/a", "one\n", 0600, Durability::kCrashSafe, &syncs).ok());
  // The file is in place (renamed) at once; its directory's fsync is what Wait joins.
  EXPECT_EQ(ReadFile(dir_ + "/a").value_or(""), "one\n");
  ASSERT_TRUE(syncs.Wait().ok());
  EXPECT_EQ(syncs.synced(), std::vector<std::string>{dir_});
}

TEST_F(DirectorySyncsTest, AProcessCrashSafeWriteSyncsNothing) {
  DirectorySyncs syncs;
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/a", "one\n", 0600, Durability::kProcessCrashSafe, &syncs).ok());
  ASSERT_TRUE(syncs.Wait().ok());
  EXPECT_TRUE(syncs.synced().empty());
}

TEST_F(DirectorySyncsTest, TwoWritesInOneDirectoryBeforeTheJoinShareOneFsync) {
  DirectorySyncs syncs;
  ASSERT_TRUE(MakeDirectories(dir_ + "/sub").ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/a", "1", 0600, Durability::kCrashSafe, &syncs).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/sub/b", "2", 0600, Durability::kCrashSafe, &syncs).ok());
  ASSERT_TRUE(syncs.Wait().ok());
  // A write after a join needs a sync of its own: the earlier one ran before its rename.
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/a", "3", 0600, Durability::kCrashSafe, &syncs).ok());
  ASSERT_TRUE(syncs.Wait().ok());
  EXPECT_EQ(syncs.synced(), (std::vector<std::string>{dir_, dir_ + "/sub", dir_}));
}

TEST_F(DirectorySyncsTest, AFailedSyncIsAnErrorNamingTheDirectory) {
  DirectorySyncs syncs;
  syncs.Sync(dir_ + "/missing");
  syncs.Sync(dir_);
  absl::Status status = syncs.Wait();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(dir_ + "/missing"), std::string::npos) << status;
  EXPECT_EQ(syncs.synced(), std::vector<std::string>{dir_});
}

TEST_F(DirectorySyncsTest, TheDestructorJoinsWhatIsStillRunning) {
  for (int i = 0; i < 8; ++i) {
    DirectorySyncs syncs;
    syncs.Sync(dir_);
  }  // a thread left running would abort the test (std::terminate)
}

}  // namespace
}  // namespace corral
