// The rootfs plan (pure): what the child will do, checked without running it.
#include "runtime/rootfs.h"

#include <sys/mount.h>

#include <set>

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

using Kind = RootfsStep::Kind;

TEST(RootfsPlanTest, ApiMountsAreCheckedAndEverythingButDevptsIsNodev) {
  ContainerSpec spec;
  spec.rootfs = "/r";
  spec.mounts.push_back(MountSpec::Filesystem("tmpfs", "/scratch"));
  spec.devices.push_back({"/dev/net/tun", 'c', 10, 200, "rw"});
  RootfsPlan plan = MakeRootfsPlan(spec, "/dev/pts/7");
  std::set<std::string> api, devices;
  for (const RootfsStep& step : plan.steps) {
    if (step.kind == Kind::kApiMount) {
      api.insert(step.target);
      EXPECT_NE(step.magic, 0) << step.target;
      if (step.fstype != "devpts") EXPECT_TRUE(step.flags & MS_NODEV) << step.target << " may open devices";
    }
    if (step.kind == Kind::kDevice) devices.insert(step.target + "<-" + step.source);
    if (step.kind == Kind::kMask || step.kind == Kind::kReadOnly) {
      EXPECT_EQ(step.base, step.target.rfind("sys/", 0) == 0 ? RootfsStep::Base::kSys : RootfsStep::Base::kProc)
          << step.target;
    }
  }
  EXPECT_EQ(api, (std::set<std::string>{"proc", "sys", "dev", "dev/pts", "dev/shm", "dev/mqueue", "run", "tmp"}));
  EXPECT_EQ(devices, (std::set<std::string>{"dev/null<-/dev/null", "dev/zero<-/dev/zero", "dev/full<-/dev/full",
                                            "dev/random<-/dev/random", "dev/urandom<-/dev/urandom",
                                            "dev/tty<-/dev/tty", "dev/net/tun<-/dev/net/tun",
                                            "dev/console<-/dev/pts/7"}));
}

}  // namespace
}  // namespace corral::runtime
