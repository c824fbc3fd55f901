// The uid/gid pool: configuration checks, allocation, release, reclaim of dead corral-runs.
#include "runtime/idmap.h"

#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

class IdPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-idmap-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  IdPoolConfig Config(std::vector<IdRange> ranges) {
    IdPoolConfig config;
    config.ranges = std::move(ranges);
    config.state_dir = dir_ + "/state";
    config.subuid = config.subgid = "";
    return config;
  }
  std::string dir_;
};

TEST_F(IdPoolTest, DefaultsAreNspawnsRange) {
  IdPoolConfig config;
  ASSERT_EQ(config.ranges.size(), 1u);
  EXPECT_EQ(config.ranges[0].first, 524288u);
  EXPECT_EQ(config.ranges[0].end(), 1879048192u);
  auto parsed = ParseIdPoolConfig("# nothing\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ranges[0].first, 524288u);
}

TEST_F(IdPoolTest, ParsesRangesAndStateDir) {
  auto parsed = ParseIdPoolConfig("range = 1000000 131072\nrange = 2000000 65536\nstate_dir = /x/y\nsubuid =\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->ranges.size(), 2u);
  EXPECT_EQ(parsed->ranges[1].first, 2000000u);
  EXPECT_EQ(parsed->state_dir, "/x/y");
  EXPECT_EQ(parsed->subuid, "");
}

TEST_F(IdPoolTest, BadConfigsAreOneClearError) {
  for (const char* text : {"range = 1000000 1000\n",         // not a multiple of 65536
                           "range = 100 65536\n",            // host system ids
                           "range = 1000000 131072\nrange = 1065536 65536\n",  // overlaps itself
                           "range = 4294901760 65536\n",     // past the id space
                           "range = x 65536\n", "colour = red\n", "range\n", "state_dir = relative\n"}) {
    auto parsed = ParseIdPoolConfig(text);
    EXPECT_FALSE(parsed.ok()) << text;
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << text << parsed.status();
  }
  auto overlap = ParseIdPoolConfig("range = 1000000 131072\nrange = 1065536 65536\n");
  EXPECT_NE(overlap.status().message().find("overlaps range 1000000-1131071"), std::string::npos) << overlap.status();
}

TEST_F(IdPoolTest, OverlapWithSubordinateIdsIsRefused) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/subuid", "alice:100000:65536\nbob:1048576:65536\n").ok());
  auto parsed = ParseIdPoolConfig(absl::StrCat("range = 983040 131072\nsubuid = ", dir_, "/subuid\nsubgid =\n"));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("\"bob\""), std::string::npos) << parsed.status();
  EXPECT_TRUE(ParseIdPoolConfig(absl::StrCat("range = 1114112 65536\nsubuid = ", dir_, "/subuid\n")).ok());
}

TEST_F(IdPoolTest, AllocatesDisjointBlocksKeepsThemAndReleases) {
  IdPool pool(Config({{1000000, 3 * kIdBlockSize}}));
  auto a = pool.Allocate("ctr:a");
  auto b = pool.Allocate("ctr:b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->base, 1000000u);
  EXPECT_EQ(b->base, 1000000u + kIdBlockSize);
  // The same owner keeps its block.
  EXPECT_EQ(pool.Allocate("ctr:a")->base, a->base);
  // A fresh pool object reads the same file (another process).
  IdPool other(pool.config());
  EXPECT_EQ(other.Allocate("ctr:c")->base, 1000000u + 2 * kIdBlockSize);
  auto full = other.Allocate("ctr:d");
  ASSERT_FALSE(full.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(full.status())) << full.status();
  EXPECT_NE(full.status().message().find("no free block"), std::string::npos);
  // Exhaustion changed nothing.
  EXPECT_EQ(pool.List()->size(), 3u);
  ASSERT_TRUE(pool.Release("ctr:b").ok());
  EXPECT_EQ(pool.Allocate("ctr:d")->base, b->base);
  EXPECT_TRUE(pool.Release("ctr:nobody").ok());
}

TEST_F(IdPoolTest, DeadRunsAreReclaimedLiveOnesKept) {
  IdPool pool(Config({{1000000, 2 * kIdBlockSize}}));
  auto me = RunOwner(::getpid());
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_FALSE(IsStaleRunOwner(*me));
  EXPECT_FALSE(IsStaleRunOwner("ctr:x"));
  // Our pid with another start time: a recycled pid.
  std::string recycled = absl::StrCat("run:", ::getpid(), ":1");
  EXPECT_TRUE(IsStaleRunOwner(recycled));
  ASSERT_TRUE(pool.Allocate(*me).ok());
  ASSERT_TRUE(pool.Allocate(recycled).ok());
  // Full, but the recycled one is dead: reclaimed.
  auto next = pool.Allocate("ctr:y");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->base, 1000000u + kIdBlockSize);
  EXPECT_FALSE(pool.Allocate("ctr:z").ok());
}

TEST_F(IdPoolTest, ClaimRecordsAKnownRangeAndRefusesATakenOne) {
  IdPool pool(Config({{1000000, 4 * kIdBlockSize}}));
  ASSERT_TRUE(pool.Claim("ctr:a", 1000000 + kIdBlockSize).ok());
  EXPECT_EQ(pool.Allocate("ctr:b")->base, 1000000u);
  EXPECT_EQ(pool.Allocate("ctr:c")->base, 1000000u + 2 * kIdBlockSize);
  EXPECT_TRUE(absl::IsFailedPrecondition(pool.Claim("ctr:d", 1000000)));
}

TEST_F(IdPoolTest, BrokenStateFileIsAnError) {
  IdPool pool(Config({{1000000, kIdBlockSize}}));
  ASSERT_TRUE(MakeDirectories(dir_ + "/state").ok());
  ASSERT_TRUE(WriteFileAtomically(pool.AllocationsPath(), "garbage\n").ok());
  EXPECT_FALSE(pool.Allocate("ctr:a").ok());
}

}  // namespace
}  // namespace corral::runtime
