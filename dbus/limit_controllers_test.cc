// Which limits a host can enforce, from its mountinfo and cgroup2 root: a hybrid host (v1
// controllers), a pure cgroup2 host with and without the controllers, and the errors' words.
#include "dbus/limit_controllers.h"

#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

constexpr char kHybrid[] =
    "31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    "33 31 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
    "34 31 0:31 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids\n"
    "35 31 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n";
constexpr char kUnified[] = "31 23 0:28 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

ContainerConfig Limited() {
  ContainerConfig c;
  c.memory_bytes = 32 << 20;
  c.tasks = 20;
  c.cpu_quota_percent = 50;
  return c;
}

TEST(LimitControllers, AHybridHostEnforcesThemThroughItsV1Hierarchies) {
  LimitControllers host = ParseLimitControllers(kHybrid, "hugetlb\n");  // its cgroup2 has none of them
  EXPECT_EQ(host.available, (std::set<std::string>{"memory", "pids", "cpu"}));
  EXPECT_TRUE(UnenforcedLimits(Limited(), host).empty());
  LimitsChange change;
  change.memory_bytes = 32 << 20;
  EXPECT_TRUE(CheckLimitsEnforceable(change, host).ok());
}

TEST(LimitControllers, APureCgroup2HostWithItsControllers) {
  LimitControllers host = ParseLimitControllers(kUnified, "cpuset cpu io memory hugetlb pids rdma misc\n");
  EXPECT_EQ(host.available, (std::set<std::string>{"memory", "pids", "cpu"}));
  EXPECT_TRUE(UnenforcedLimits(Limited(), host).empty());
}

TEST(LimitControllers, ACgroup2WithoutThemRefusesByName) {
  LimitControllers host = ParseLimitControllers(kUnified, "\n");  // a unified sandbox on a hybrid host
  EXPECT_TRUE(host.available.empty());
  EXPECT_EQ(UnenforcedLimits(Limited(), host),
            (std::vector<std::string>{"Memory: no memory controller", "Tasks: no pids controller",
                                      "CPUQuota: no cpu controller"}));
  LimitsChange change;
  change.memory_bytes = 32 << 20;
  absl::Status refused = CheckLimitsEnforceable(change, host);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_EQ(refused.message(),
            "cannot enforce Memory: this host's cgroups have no memory controller (cgroup2 at /sys/fs/cgroup offers "
            "\"\", no v1 hierarchy of them is mounted), so the limit would not be in force; nothing was changed");
  change = {};
  change.cpu_weight = 200;
  EXPECT_NE(CheckLimitsEnforceable(change, host).message().find("no cpu controller"), absl::string_view::npos);
  // Removing a limit (0: none) needs no controller.
  change = {};
  change.memory_bytes = 0;
  change.tasks = 0;
  EXPECT_TRUE(CheckLimitsEnforceable(change, host).ok());
  EXPECT_TRUE(UnenforcedLimits(ContainerConfig{}, host).empty());
}

TEST(LimitControllers, OnlyWhatIsMissing) {
  LimitControllers host = ParseLimitControllers(kUnified, "cpu pids\n");
  EXPECT_EQ(UnenforcedLimits(Limited(), host), std::vector<std::string>{"Memory: no memory controller"});
  LimitsChange change;
  change.tasks = 5;
  change.cpu_quota_percent = 10;
  EXPECT_TRUE(CheckLimitsEnforceable(change, host).ok());
}

}  // namespace
}  // namespace corral::dbus
