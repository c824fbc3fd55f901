#include "runtime/oci/launch.h"

#include <sys/mount.h>

#include <string>

#include "gtest/gtest.h"

namespace corral::runtime::oci {
namespace {

Seccomp Profile(const std::string& action, const std::string& op, const std::string& arch) {
  Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {arch};
  SeccompRule rule;
  rule.names = {"mkdir", "not_a_syscall_anywhere"};
  rule.action = action;
  rule.errno_ret = 1;
  SeccompArg arg;
  arg.index = 1;
  arg.value = 0700;
  arg.op = op;
  rule.args = {arg, arg};  // the same argument twice: split into two rules
  s.syscalls = {rule};
  return s;
}

TEST(OciSeccompTest, CompilesAProfile) {
  absl::StatusOr<SeccompProgram> p = CompileOciSeccomp(Profile("SCMP_ACT_ERRNO", "SCMP_CMP_EQ", "SCMP_ARCH_X86_64"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_GT(p->instructions.size(), 4u);
}

TEST(OciSeccompTest, BadProfilesNameTheField) {
  absl::StatusOr<SeccompProgram> p = CompileOciSeccomp(Profile("SCMP_ACT_NOPE", "SCMP_CMP_EQ", "SCMP_ARCH_X86_64"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("linux.seccomp.syscalls[0].action"), std::string::npos) << p.status();
  p = CompileOciSeccomp(Profile("SCMP_ACT_ERRNO", "SCMP_CMP_ALMOST", "SCMP_ARCH_X86_64"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("linux.seccomp.syscalls[0].args[0].op"), std::string::npos) << p.status();
  p = CompileOciSeccomp(Profile("SCMP_ACT_ERRNO", "SCMP_CMP_EQ", "SCMP_ARCH_Z80"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("linux.seccomp.architectures[0]"), std::string::npos) << p.status();
}

absl::StatusOr<Config> Bundle(const std::string& extra_mounts, const std::string& devices = "[]",
                              const std::string& namespaces = R"([{"type": "mount"}])") {
  return ParseConfig(R"({"ociVersion": "1.2.0", "root": {"path": "/nonexistent-root"},
      "process": {"args": ["true"]},
      "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                 {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}, )" + extra_mounts + R"(],
      "linux": {"namespaces": )" + namespaces + R"(, "devices": )" + devices + R"(,
                "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]}})",
                     "/b");
}

TEST(OciRootfsPlanTest, MountsInOrderThenDevicesThenMasks) {
  absl::StatusOr<Config> config = Bundle(R"({"destination": "/data", "source": "/tmp", "options": ["rbind", "ro", "nosuid"]})");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<RootfsPlan> plan = MakeOciRootfsPlan(*config, "");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_GE(plan->steps.size(), 4u);
  EXPECT_EQ(plan->steps[0].target, "proc");
  EXPECT_TRUE(plan->steps[0].keep_as_base);
  EXPECT_EQ(plan->steps[1].target, "dev");
  EXPECT_EQ(plan->steps[2].target, "data");
  EXPECT_EQ(plan->steps[2].kind, RootfsStep::Kind::kBind);
  EXPECT_NE(plan->steps[2].flags & MS_RDONLY, 0u);
  EXPECT_NE(plan->steps[2].flags & MS_NOSUID, 0u);
  EXPECT_EQ(plan->steps.back().kind, RootfsStep::Kind::kReadOnly);
  EXPECT_EQ(plan->steps.back().target, "proc/sys");
}

TEST(OciRootfsPlanTest, MissingBindSourceOrDeviceIsAnError) {
  absl::StatusOr<Config> config = Bundle(R"({"destination": "/data", "source": "/nonexistent-source", "options": ["bind"]})");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<RootfsPlan> plan = MakeOciRootfsPlan(*config, "");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("mounts[2].source"), std::string::npos) << plan.status();

  // In a user namespace devices are the host's nodes, bound: one the host lacks is an error.
  config = Bundle(R"({"destination": "/x", "type": "tmpfs", "source": "tmpfs"})",
                  R"([{"path": "/dev/null", "type": "c", "major": 9, "minor": 9}])",
                  R"([{"type": "mount"}, {"type": "user"}], "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                     "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}])");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(DevicesByMknod(*config));
  plan = MakeOciRootfsPlan(*config, "");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("linux.devices[0]"), std::string::npos) << plan.status();
}

TEST(OciRootfsPlanTest, WithoutAUserNamespaceDevicesAreMadeNotBound) {
  absl::StatusOr<Config> config = Bundle(R"({"destination": "/x", "type": "tmpfs", "source": "tmpfs"})",
                                         R"([{"path": "/dev/corral-test", "type": "c", "major": 9, "minor": 9}])");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(DevicesByMknod(*config));
  absl::StatusOr<RootfsPlan> plan = MakeOciRootfsPlan(*config, "");
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const RootfsStep& step : plan->steps) EXPECT_NE(step.target, "dev/corral-test");
}

}  // namespace
}  // namespace corral::runtime::oci
