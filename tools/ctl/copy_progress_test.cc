// The cp/export status line, and that nothing is drawn when progress is off (--quiet).
#include "tools/ctl/copy_progress.h"

#include "gtest/gtest.h"
#include "tools/images/progress.h"

namespace corral::tools {
namespace {

TEST(CopyProgressTest, LineHasPhaseFilesBytesAndTime) {
  EXPECT_EQ(CopyProgress::Line("copying /srv/x", 1, 0, 3'000'000), "copying /srv/x  1 file  0:03");
  EXPECT_EQ(CopyProgress::Line("copying /srv/x", 1234, 120'000'000, 65'000'000),
            "copying /srv/x  1234 files  120.0 MB  1:05");
}

TEST(CopyProgressTest, CurrentIsTheInnermostAndCountsWhenQuiet) {
  images::SetProgressEnabled(false);
  EXPECT_EQ(CopyProgress::Current(), nullptr);
  {
    CopyProgress outer("a");
    EXPECT_EQ(CopyProgress::Current(), &outer);
    {
      CopyProgress inner("b");
      EXPECT_EQ(CopyProgress::Current(), &inner);
      inner.Add(10, true);
    }
    EXPECT_EQ(CopyProgress::Current(), &outer);
  }
  EXPECT_EQ(CopyProgress::Current(), nullptr);
}

}  // namespace
}  // namespace corral::tools
