#include "tools/oci/default_cgroup.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace corral::oci_cli {
namespace {

runtime::CgroupMounts Unified(const std::string& root = "/") {
  runtime::CgroupMounts m;
  m.unified = runtime::CgroupMount{"/sys/fs/cgroup", root};
  return m;
}

TEST(DefaultCgroupDirs, PureCgroup2TakesTheParentOfOurOwnCgroup) {
  // Our own cgroup holds us: no controllers could be handed down to a child of it.
  runtime::ProcCgroups own = runtime::ParseProcCgroup("0::/system.slice/run-u7.service\n");
  auto dirs = DefaultCgroupDirs(Unified(), own, "c1");
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_EQ(*dirs, (std::vector<std::string>{"/sys/fs/cgroup/system.slice/c1"}));
}

TEST(DefaultCgroupDirs, PureCgroup2BelowTheRoot) {
  auto dirs = DefaultCgroupDirs(Unified(), runtime::ParseProcCgroup("0::/init.scope\n"), "c1");
  ASSERT_TRUE(dirs.ok());
  EXPECT_EQ(*dirs, (std::vector<std::string>{"/sys/fs/cgroup/c1"}));
}

TEST(DefaultCgroupDirs, MountRootIsStripped) {
  runtime::ProcCgroups own = runtime::ParseProcCgroup("0::/outer/system.slice/x.service\n");
  auto dirs = DefaultCgroupDirs(Unified("/outer"), own, "c1");
  ASSERT_TRUE(dirs.ok());
  EXPECT_EQ(*dirs, (std::vector<std::string>{"/sys/fs/cgroup/system.slice/c1"}));
  EXPECT_FALSE(DefaultCgroupDirs(Unified("/elsewhere"), own, "c1").ok());
}

TEST(DefaultCgroupDirs, HybridTakesChildrenOfOurOwnCgroupInEachHierarchy) {
  runtime::CgroupMounts m;
  m.unified = runtime::CgroupMount{"/sys/fs/cgroup/unified", "/"};
  m.v1["memory"] = {"/sys/fs/cgroup/memory", "/"};
  m.v1["cpu"] = {"/sys/fs/cgroup/cpu,cpuacct", "/"};
  m.v1["cpuacct"] = {"/sys/fs/cgroup/cpu,cpuacct", "/"};
  m.v1["devices"] = {"/sys/fs/cgroup/devices", "/"};
  m.v1["name=systemd"] = {"/sys/fs/cgroup/systemd", "/"};
  runtime::ProcCgroups own = runtime::ParseProcCgroup(
      "0::/system.slice/a.service\n9:memory:/\n4:cpu,cpuacct:/system.slice\n3:devices:/system.slice/a.service\n"
      "1:name=systemd:/system.slice/a.service\n");
  auto dirs = DefaultCgroupDirs(m, own, "c1");
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_EQ(*dirs, (std::vector<std::string>{"/sys/fs/cgroup/unified/system.slice/a.service/c1", "/sys/fs/cgroup/memory/c1",
                                 "/sys/fs/cgroup/cpu,cpuacct/system.slice/c1",
                                 "/sys/fs/cgroup/devices/system.slice/a.service/c1",
                                 "/sys/fs/cgroup/systemd/system.slice/a.service/c1"}));
}

TEST(DefaultCgroupDirs, MissingLinesAreErrors) {
  EXPECT_FALSE(DefaultCgroupDirs(Unified(), runtime::ParseProcCgroup("1:name=systemd:/\n"), "c1").ok());
  runtime::CgroupMounts m;
  m.v1["memory"] = {"/sys/fs/cgroup/memory", "/"};
  EXPECT_FALSE(DefaultCgroupDirs(m, runtime::ParseProcCgroup("0::/\n"), "c1").ok());
  EXPECT_FALSE(DefaultCgroupDirs(runtime::CgroupMounts{}, runtime::ParseProcCgroup("0::/\n"), "c1").ok());
}

}  // namespace
}  // namespace corral::oci_cli
