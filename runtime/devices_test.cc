// The device table: the allow-list both the rootfs and the scopes take, and --device specs.
#include "runtime/devices.h"

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

TEST(DevicesTest, AllowListIsTheOciDefaultPlusWhatIsGiven) {
  std::vector<std::pair<std::string, std::string>> expected = {
      {"/dev/null", "rwm"},    {"/dev/zero", "rwm"},    {"/dev/full", "rwm"}, {"/dev/random", "rwm"},
      {"/dev/urandom", "rwm"}, {"/dev/tty", "rwm"},     {"/dev/console", "rwm"}, {"/dev/ptmx", "rwm"},
      {"char-pts", "rw"}};
  EXPECT_EQ(SystemdDeviceAllow({}), expected);
  // tun and fuse only when given, with the access given.
  expected.push_back({"/dev/fuse", "r"});
  EXPECT_EQ(SystemdDeviceAllow({{"/dev/fuse", 'c', 10, 229, "r"}}), expected);
  std::vector<DeviceRule> rules = DeviceAllowList({});
  ASSERT_EQ(rules.size(), 9u);
  EXPECT_EQ(rules[6].major, 5);  // console 5:1, ptmx 5:2
  EXPECT_EQ(rules[6].minor, 1);
  EXPECT_EQ(rules[7].minor, 2);
  EXPECT_EQ(rules[8].major, 136);
  EXPECT_EQ(rules[8].minor, -1);  // every pty
}

TEST(DevicesTest, TextIsNormalizedAndRoundTrips) {
  auto spec = ParseDeviceSpecText("/dev/net/tun:mwr");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->path, "/dev/net/tun");
  EXPECT_EQ(spec->access, "rwm");
  EXPECT_EQ(FormatDeviceSpec(*spec), "/dev/net/tun:rwm");
  EXPECT_EQ(ParseDeviceSpecText("/dev/fuse")->access, "rwm");
  for (const char* bad : {"", "/dev/", "dev/fuse", "/dev//fuse", "/dev/fuse/", "/dev/./fuse", "/dev/a/../b",
                          "/dev/fuse:", "/dev/fuse:x", "/dev/fuse:rr", "/etc/passwd"}) {
    EXPECT_FALSE(ParseDeviceSpecText(bad).ok()) << bad;
  }
}

TEST(DevicesTest, HostNodeDecidesTypeAndNumbers) {
  auto null = ParseDeviceSpec("/dev/null:r");
  ASSERT_TRUE(null.ok()) << null.status();
  EXPECT_EQ(null->type, 'c');
  EXPECT_EQ(null->major, 1u);
  EXPECT_EQ(null->minor, 3u);
  EXPECT_FALSE(ParseDeviceSpec("/dev/no-such-node-0").ok());
}

TEST(DevicesTest, DuplicatesAndTheContainersOwnNodesAreRefused) {
  DeviceSpec fuse{"/dev/fuse", 'c', 10, 229, "rwm"};
  EXPECT_TRUE(ValidateDevices({fuse}).ok());
  EXPECT_FALSE(ValidateDevices({fuse, fuse}).ok());
  for (const char* own : {"/dev/null", "/dev/console", "/dev/ptmx", "/dev/pts/0", "/dev/shm/x"}) {
    EXPECT_FALSE(ValidateDevices({{own, 'c', 1, 3, "rwm"}}).ok()) << own;
  }
  EXPECT_FALSE(ValidateDevices({{"/dev/fuse", 'x', 10, 229, "rwm"}}).ok());
  EXPECT_FALSE(ValidateDevices({{"/dev/fuse", 'c', 10, 229, "mr"}}).ok());
}

}  // namespace
}  // namespace corral::runtime
