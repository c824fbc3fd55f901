#include "dbus/limits.h"

#include "dbus/oom_watch.h"
#include "dbus/restart_policy.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

ContainerConfig Base() {
  ContainerConfig c;
  c.name = "web";
  c.image = "busybox";
  c.command = {"sleep", "1"};
  c.memory_bytes = 64 << 20;
  return c;
}

TEST(Limits, AppliesOnlyWhatIsGiven) {
  LimitsChange change;
  change.memory_bytes = 32 << 20;
  change.cpu_quota_percent = 50;
  absl::StatusOr<ContainerConfig> c = ApplyLimits(Base(), change);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->memory_bytes, uint64_t{32} << 20);
  EXPECT_EQ(c->cpu_quota_percent, 50u);
  EXPECT_EQ(c->tasks, 0u);
  EXPECT_EQ(SystemdLimitProperties(change),
            (std::vector<std::pair<std::string, uint64_t>>{{"MemoryMax", 32 << 20}, {"CPUQuotaPerSecUSec", 500000}}));
  std::vector<std::string> changed;
  for (const char* p : ChangedLimitProperties(change)) changed.emplace_back(p);
  EXPECT_EQ(changed, (std::vector<std::string>{"Memory", "CPUQuota"}));
}

TEST(Limits, ZeroRemovesALimit) {
  LimitsChange change;
  change.memory_bytes = 0;
  change.tasks = 0;
  change.cpu_weight = 0;
  change.cpu_quota_percent = 0;
  absl::StatusOr<ContainerConfig> c = ApplyLimits(Base(), change);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->memory_bytes, 0u);
  for (const auto& [name, value] : SystemdLimitProperties(change)) EXPECT_EQ(value, UINT64_MAX) << name;
}

TEST(Limits, OutOfRangeIsRefused) {
  LimitsChange tiny;
  tiny.memory_bytes = 1 << 20;
  EXPECT_EQ(ApplyLimits(Base(), tiny).status().code(), absl::StatusCode::kInvalidArgument);
  LimitsChange weight;
  weight.cpu_weight = 10001;
  EXPECT_FALSE(ApplyLimits(Base(), weight).ok());
  LimitsChange quota;
  quota.cpu_quota_percent = 100001;
  EXPECT_FALSE(ApplyLimits(Base(), quota).ok());
  LimitsChange tasks;
  tasks.tasks = uint64_t{1} << 40;
  EXPECT_FALSE(ApplyLimits(Base(), tasks).ok());
  EXPECT_FALSE(ApplyLimits(Base(), LimitsChange{}).ok());
}

TEST(RestartPolicy, Parses) {
  EXPECT_EQ(FormatRestartPolicy(*ParseRestartPolicy("no")), "no");
  EXPECT_EQ(FormatRestartPolicy(*ParseRestartPolicy("always")), "always");
  EXPECT_EQ(FormatRestartPolicy(*ParseRestartPolicy("on-failure")), "on-failure");
  EXPECT_EQ(ParseRestartPolicy("on-failure:3")->max_retries, 3u);
  for (const char* bad : {"yes", "on-failure:", "on-failure:0", "on-failure:-1", "on-failure:x", "on-failure3",
                          "always:2", "unless-stopped", "on-failure:99999999999"}) {
    EXPECT_FALSE(ParseRestartPolicy(bad).ok()) << bad;
  }
}

TEST(RestartPolicy, Decides) {
  RestartPolicy three = *ParseRestartPolicy("on-failure:3");
  EXPECT_TRUE(ShouldRestart(three, 1, false, 0));
  EXPECT_TRUE(ShouldRestart(three, 137, false, 2));
  EXPECT_FALSE(ShouldRestart(three, 1, false, 3));
  EXPECT_FALSE(ShouldRestart(three, 0, false, 0));
  EXPECT_FALSE(ShouldRestart(three, 1, true, 0));
  RestartPolicy always = *ParseRestartPolicy("always");
  EXPECT_TRUE(ShouldRestart(always, 0, false, 100));
  EXPECT_FALSE(ShouldRestart(always, 0, true, 0));
  EXPECT_FALSE(ShouldRestart(*ParseRestartPolicy("no"), 1, false, 0));
  EXPECT_TRUE(ShouldRestart(*ParseRestartPolicy("on-failure"), 1, false, 1000));
}

TEST(RestartPolicy, BacksOff) {
  EXPECT_EQ(RestartDelayUsec(0), 100000u);
  EXPECT_EQ(RestartDelayUsec(1), 200000u);
  EXPECT_EQ(RestartDelayUsec(3), 800000u);
  EXPECT_EQ(RestartDelayUsec(8), 25600000u);
  EXPECT_EQ(RestartDelayUsec(9), 30000000u);
  EXPECT_EQ(RestartDelayUsec(1000), 30000000u);
}

TEST(RestartPolicy, ConfigRoundTrip) {
  ContainerConfig c = Base();
  c.restart = "on-failure:3";
  c.cpu_quota_percent = 150;
  absl::StatusOr<ContainerConfig> parsed = ParseConfig(FormatConfig(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->restart, "on-failure:3");
  EXPECT_EQ(parsed->cpu_quota_percent, 150u);
  c.restart = "sometimes";
  EXPECT_FALSE(ValidateConfig(c).ok());
}

}  // namespace
}  // namespace corral::dbus

namespace corral::dbus {
namespace {

TEST(OomWatch, ParsesBothFormats) {
  EXPECT_EQ(*ParseOomKills("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n"), 1u);
  EXPECT_EQ(*ParseOomKills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), 3u);
  EXPECT_FALSE(ParseOomKills("oom_kill_disable 0\nunder_oom 0\n").has_value());
}

TEST(OomWatch, CutsAtTheUnit) {
  EXPECT_EQ(CutAtUnit("/sys/fs/cgroup/machine.slice/corral-a.scope/payload", "corral-a.scope"),
            "/sys/fs/cgroup/machine.slice/corral-a.scope");
  EXPECT_EQ(CutAtUnit("/sys/fs/cgroup/memory/machine.slice/corral-a.scope", "corral-a.scope"),
            "/sys/fs/cgroup/memory/machine.slice/corral-a.scope");
  EXPECT_EQ(CutAtUnit("/sys/fs/cgroup/machine.slice/corral-ab.scope/payload", "corral-a.scope"), "");
  EXPECT_EQ(CutAtUnit("", "corral-a.scope"), "");
}

}  // namespace
}  // namespace corral::dbus
