// The registry and container configs without any bus: validation, persistence, removal.
#include "dbus/registry.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "common/files.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-registry-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    paths_ = {dir_ + "/lib/containers", dir_ + "/run/containers", dir_ + "/lib/images"};
    ASSERT_TRUE(MakeDirectories(paths_.images_root + "/busybox/rootfs", 0755).ok());
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  ContainerConfig Busybox(const std::string& name) {
    ContainerConfig c;
    c.name = name;
    c.image = "busybox";
    c.boot = true;
    return c;
  }

  std::string dir_;
  RegistryPaths paths_;
};

TEST_F(RegistryTest, CreatePersistsAndLoadFindsItAgain) {
  Registry registry(paths_);
  ContainerConfig c = Busybox("web");
  c.hostname = "www";
  c.ports = {*netcfg::ParsePortForward("8080:80"), *netcfg::ParsePortForward("udp:53:53")};
  c.memory_bytes = 32 << 20;
  c.env = {"A=1", "B=two words"};
  c.command = {"sh", "-c", "echo 'hi\nthere'"};
  auto created = registry.Create(c);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)->config.image_rootfs, paths_.images_root + "/busybox/rootfs");
  EXPECT_EQ((*created)->unit(), "corral-web.scope");

  Registry again(paths_);
  std::vector<std::string> problems;
  ASSERT_TRUE(again.Load(&problems).ok());
  EXPECT_TRUE(problems.empty());
  ContainerRecord* loaded = again.Find("web");
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(FormatConfig(loaded->config), FormatConfig((*created)->config));
  EXPECT_EQ(loaded->config.command[2], "echo 'hi\nthere'");
  EXPECT_EQ(loaded->state, ContainerState::kStopped);
}

TEST_F(RegistryTest, BadInputIsRefusedAndLeavesNothing) {
  Registry registry(paths_);
  ASSERT_TRUE(registry.Create(Busybox("web")).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(registry.Create(Busybox("web")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(registry.Create(Busybox("-bad")).status()));
  ContainerConfig no_image = Busybox("x1");
  no_image.image = "debian";
  EXPECT_TRUE(absl::IsNotFound(registry.Create(no_image).status()));
  ContainerConfig escape = Busybox("x6");
  escape.image = "../../etc";
  EXPECT_TRUE(absl::IsInvalidArgument(registry.Create(escape).status()));
  ContainerConfig overlap = Busybox("x2");
  overlap.ports = {*netcfg::ParsePortForward("80:80"), *netcfg::ParsePortForward("tcp:80:81")};
  EXPECT_TRUE(absl::IsInvalidArgument(registry.Create(overlap).status()));
  ContainerConfig ports_without_bridge = Busybox("x3");
  ports_without_bridge.network = NetworkMode::kNone;
  ports_without_bridge.ports = {*netcfg::ParsePortForward("80:80")};
  EXPECT_TRUE(absl::IsInvalidArgument(registry.Create(ports_without_bridge).status()));
  ContainerConfig tiny = Busybox("x4");
  tiny.memory_bytes = 1024;
  EXPECT_TRUE(absl::IsInvalidArgument(registry.Create(tiny).status()));
  ContainerConfig nothing_to_run = Busybox("x5");
  nothing_to_run.boot = false;
  EXPECT_TRUE(absl::IsInvalidArgument(registry.Create(nothing_to_run).status()));
  for (const char* name : {"x1", "x2", "x3", "x4", "x5", "x6"}) {
    struct stat st;
    EXPECT_NE(::stat((paths_.lib_root + "/" + name).c_str(), &st), 0) << name;
    EXPECT_EQ(registry.Find(name), nullptr);
  }
  EXPECT_EQ(registry.List().size(), 1u);
}

TEST_F(RegistryTest, RemoveRefusesARunningContainerAndDeletesAStoppedOne) {
  Registry registry(paths_);
  auto created = registry.Create(Busybox("web"));
  ASSERT_TRUE(created.ok());
  (*created)->state = ContainerState::kRunning;
  EXPECT_TRUE(absl::IsFailedPrecondition(registry.Remove("web")));
  (*created)->state = ContainerState::kStopped;
  EXPECT_TRUE(registry.Remove("web").ok());
  EXPECT_EQ(registry.Find("web"), nullptr);
  struct stat st;
  EXPECT_NE(::stat((paths_.lib_root + "/web").c_str(), &st), 0);
  EXPECT_TRUE(absl::IsNotFound(registry.Remove("web")));
}

TEST_F(RegistryTest, BrokenConfigIsSkippedAndReported) {
  ASSERT_TRUE(MakeDirectories(paths_.lib_root + "/junk", 0700).ok());
  ASSERT_TRUE(WriteFileAtomically(paths_.lib_root + "/junk/config", "name=junk\nnetwork=wifi\n").ok());
  Registry registry(paths_);
  std::vector<std::string> problems;
  ASSERT_TRUE(registry.Load(&problems).ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("wifi"), std::string::npos);
  EXPECT_EQ(registry.Find("junk"), nullptr);
}

TEST(SupervisorStateTest, RoundTrip) {
  SupervisorState state{12, 34, {"10.77.0.2/16"}};
  auto parsed = ParseSupervisorState(FormatSupervisorState(state));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->supervisor, 12);
  EXPECT_EQ(parsed->leader, 34);
  EXPECT_EQ(parsed->addresses, state.addresses);
  EXPECT_FALSE(ParseSupervisorState("leader=3\n").ok());
}

}  // namespace
}  // namespace corral::dbus

namespace corral::dbus {
namespace {

TEST(ContainerConfigTest, DevicesArePersistedAndChecked) {
  ContainerConfig c;
  c.name = "dev";
  c.image = "busybox";
  c.boot = true;
  c.devices = {"/dev/fuse:rw", "/dev/net/tun:rwm"};
  ASSERT_TRUE(ValidateConfig(c).ok());
  std::string text = FormatConfig(c);
  EXPECT_NE(text.find("device=/dev/fuse:rw\n"), std::string::npos) << text;
  auto parsed = ParseConfig(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->devices, c.devices);
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"/dev/fuse:wr"}, {"/dev/fuse"}, {"fuse:rw"}, {"/dev/fuse:rw", "/dev/fuse:r"}, {"/dev/null:rwm"}}) {
    c.devices = bad;
    EXPECT_FALSE(ValidateConfig(c).ok()) << bad[0];
  }
}

}  // namespace
}  // namespace corral::dbus
