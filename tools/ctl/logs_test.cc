#include "tools/ctl/logs.h"

#include <stdlib.h>
#include <time.h>

#include "gtest/gtest.h"

namespace corral::tools {
namespace {

constexpr uint64_t kS = 1000000;
// 2024-05-01 12:00:00 UTC.
constexpr uint64_t kNow = 1714564800 * kS;

class SinceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

TEST_F(SinceTest, Relative) {
  EXPECT_EQ(*ParseSince("10m", kNow), kNow - 600 * kS);
  EXPECT_EQ(*ParseSince("-10m", kNow), kNow - 600 * kS);
  EXPECT_EQ(*ParseSince("10m ago", kNow), kNow - 600 * kS);
  EXPECT_EQ(*ParseSince("1h30m ago", kNow), kNow - 5400 * kS);
  EXPECT_EQ(*ParseSince("2 days ago", kNow), kNow - 2 * 86400 * kS);
  EXPECT_EQ(*ParseSince("90s", kNow), kNow - 90 * kS);
  EXPECT_EQ(*ParseSince("now", kNow), kNow);
}

TEST_F(SinceTest, Absolute) {
  EXPECT_EQ(*ParseSince("@1714564000", kNow), 1714564000 * kS);
  EXPECT_EQ(*ParseSince("2024-05-01", kNow), (1714564800 - 12 * 3600) * kS);
  EXPECT_EQ(*ParseSince("2024-05-01 11:30", kNow), kNow - 1800 * kS);
  EXPECT_EQ(*ParseSince("2024-05-01T11:30:05", kNow), kNow - 1795 * kS);
  EXPECT_EQ(*ParseSince("11:00", kNow), kNow - 3600 * kS);
  EXPECT_EQ(*ParseSince("today", kNow), (1714564800 - 12 * 3600) * kS);
  EXPECT_EQ(*ParseSince("yesterday", kNow), (1714564800 - 36 * 3600) * kS);
}

TEST_F(SinceTest, NotATime) {
  for (const char* text : {"", "soon", "10", "10x", "-", "@", "@-5", "@12abc", "2024-13-01", "2024-05-01 25:00",
                           "2024-05-01X12:00", "12:00:00:00", "-2024-05-01", "10m later", "1e3s"}) {
    absl::StatusOr<uint64_t> since = ParseSince(text, kNow);
    EXPECT_FALSE(since.ok()) << text;
    if (!since.ok()) {
      EXPECT_NE(since.status().message().find("is not a time"), std::string::npos) << text;
    }
  }
}

TEST_F(SinceTest, Args) {
  absl::StatusOr<LogsOptions> o = ParseLogsArgs({"web", "-f", "-n", "5", "--since", "1h", "--json"}, kNow);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->name, "web");
  EXPECT_TRUE(o->follow);
  EXPECT_TRUE(o->json);
  EXPECT_EQ(*o->lines, 5u);
  EXPECT_EQ(*o->since_usec, kNow - 3600 * kS);
  EXPECT_FALSE(ParseLogsArgs({"web", "-n", "-3"}, kNow).ok());
  EXPECT_FALSE(ParseLogsArgs({"web", "-n", "x"}, kNow).ok());
  EXPECT_FALSE(ParseLogsArgs({"web", "-n"}, kNow).ok());
  EXPECT_FALSE(ParseLogsArgs({"web", "--since", "whenever"}, kNow).ok());
  EXPECT_FALSE(ParseLogsArgs({"web", "--bogus"}, kNow).ok());
  EXPECT_FALSE(ParseLogsArgs({"-f"}, kNow).ok());
}

TEST_F(SinceTest, Format) {
  LogEntry e{kNow + 42, 3, "he said \"hi\"", "corral-web.scope"};
  LogsOptions o;
  o.name = "web";
  EXPECT_EQ(FormatLogEntry(e, o), "he said \"hi\"");
  o.timestamps = true;
  EXPECT_EQ(FormatLogEntry(e, o), "2024-05-01T12:00:00.000042+00:00 he said \"hi\"");
  o.json = true;
  EXPECT_EQ(FormatLogEntry(e, o),
            "{\"time_usec\": 1714564800000042, \"time\": \"2024-05-01T12:00:00.000042+00:00\", \"priority\": 3, "
            "\"container\": \"web\", \"unit\": \"corral-web.scope\", \"message\": \"he said \\\"hi\\\"\"}");
}

}  // namespace
}  // namespace corral::tools
