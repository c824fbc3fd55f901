#include "tools/ctl/set.h"

#include "gtest/gtest.h"

namespace corral::tools {
namespace {

TEST(SetArgs, Parses) {
  absl::StatusOr<SetArgs> s = ParseSetArgs({"web", "--memory", "32M", "--pids=20", "--cpu-weight", "500", "--cpu-quota", "50%"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "web");
  EXPECT_EQ(*s->memory_bytes, uint64_t{32} << 20);
  EXPECT_EQ(*s->tasks, 20u);
  EXPECT_EQ(*s->cpu_weight, 500u);
  EXPECT_EQ(*s->cpu_quota_percent, 50u);
  s = ParseSetArgs({"--memory", "none", "web", "--cpu-quota", "150"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s->memory_bytes, 0u);
  EXPECT_EQ(*s->cpu_quota_percent, 150u);
  EXPECT_FALSE(s->tasks.has_value());
}

TEST(SetArgs, RefusesBadInput) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"web"},
           {"--memory", "32M"},
           {"web", "--memory", "-32M"},
           {"web", "--memory", "32Q"},
           {"web", "--memory", "1M"},
           {"web", "--memory"},
           {"web", "--pids", "-1"},
           {"web", "--pids", "x"},
           {"web", "--cpu-weight", "10001"},
           {"web", "--cpu-quota", "-5%"},
           {"web", "--cpu-quota", "5%%"},
           {"web", "--bogus", "1"},
           {"web", "other"},
       }) {
    EXPECT_FALSE(ParseSetArgs(args).ok()) << args.size() << " " << args.back();
  }
}

}  // namespace
}  // namespace corral::tools
