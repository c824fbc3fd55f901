#include "tools/run_options.h"

#include <sys/stat.h>

#include <sched.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace corral::tools {
namespace {

std::string ErrorOf(std::vector<std::string> args) {
  auto parsed = ParseRunOptions(args);
  return parsed.ok() ? "" : std::string(parsed.status().message());
}

TEST(RunOptionsTest, FullCommandLine) {
  auto parsed = ParseRunOptions({"--rootfs", "/r", "--name=web", "--hostname", "h", "--net", "bridge", "-p", "8080:80",
                                 "--publish=udp:53:53", "--memory", "64M", "--pids", "100", "--cpu-weight", "50",
                                 "-e", "A=1", "--env=B=2", "--cwd", "/tmp", "--user", "1000:100", "-t", "--init",
                                 "--", "sh", "-c", "echo hi"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->spec.rootfs, "/r");
  EXPECT_EQ(parsed->spec.name, "web");
  EXPECT_EQ(parsed->spec.hostname, "h");
  EXPECT_EQ(parsed->net, NetMode::kBridge);
  ASSERT_EQ(parsed->ports.size(), 2u);
  EXPECT_EQ(netcfg::ToString(parsed->ports[0]), "tcp:8080:80");
  EXPECT_EQ(netcfg::ToString(parsed->ports[1]), "udp:53:53");
  EXPECT_EQ(*parsed->memory_bytes, 64u << 20);
  EXPECT_EQ(*parsed->pids, 100u);
  EXPECT_EQ(*parsed->cpu_weight, 50u);
  EXPECT_EQ(parsed->spec.env, (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(parsed->spec.cwd, "/tmp");
  EXPECT_EQ(parsed->spec.uid, 1000u);
  EXPECT_EQ(parsed->spec.gid, 100u);
  EXPECT_TRUE(parsed->spec.tty);
  EXPECT_EQ(parsed->spec.init, runtime::InitMode::kTinyInit);
  EXPECT_EQ(parsed->spec.command, (std::vector<std::string>{"sh", "-c", "echo hi"}));
}

TEST(RunOptionsTest, Defaults) {
  auto parsed = ParseRunOptions({"--rootfs", "/r", "--", "true"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->spec.name, "corral");
  EXPECT_EQ(parsed->net, NetMode::kBridge);
  EXPECT_EQ(parsed->spec.init, runtime::InitMode::kDirect);
  EXPECT_TRUE(parsed->spec.seccomp);
  auto boot = ParseRunOptions({"--rootfs", "/r", "--boot"});
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_EQ(boot->spec.init, runtime::InitMode::kBoot);
}

TEST(RunOptionsTest, CreateTakesAnImageAndBootsWithoutACommand) {
  auto parsed = ParseRunOptions({"--image", "busybox", "-p", "8080:80", "--memory", "32M"}, OptionsFor::kCreate);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->image, "busybox");
  EXPECT_EQ(parsed->spec.init, runtime::InitMode::kBoot);
  EXPECT_EQ(*parsed->memory_bytes, 32u << 20);
  EXPECT_FALSE(ParseRunOptions({"-p", "80:80"}, OptionsFor::kCreate).ok());  // no image
  EXPECT_FALSE(ParseRunOptions({"--image", "busybox", "--rootfs", "/r"}, OptionsFor::kCreate).ok());
  EXPECT_FALSE(ParseRunOptions({"--image", "busybox", "--", "true"}).ok());  // corral-run has no --image
}

TEST(RunOptionsTest, UserNamespace) {
  auto parsed = ParseRunOptions({"--rootfs", "/r", "--userns", "100000:65536", "--", "true"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->spec.namespaces & CLONE_NEWUSER);
  ASSERT_EQ(parsed->spec.uid_map.size(), 1u);
  EXPECT_EQ(parsed->spec.uid_map[0].host_id, 100000u);
  EXPECT_EQ(parsed->spec.uid_map[0].count, 65536u);
  EXPECT_TRUE(parsed->spec.idmap_rootfs);
  EXPECT_TRUE(parsed->explicit_userns);
}

TEST(RunOptionsTest, PrivilegedIsExplicitAndExcludesUserns) {
  auto plain = ParseRunOptions({"--rootfs", "/r", "--", "true"});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->privileged);
  auto privileged = ParseRunOptions({"--rootfs", "/r", "--privileged", "--", "true"});
  ASSERT_TRUE(privileged.ok());
  EXPECT_TRUE(privileged->privileged);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--privileged", "--userns", "100000:65536", "--", "true"}).find("exclude"),
            std::string::npos);
  auto create = ParseRunOptions({"--image", "busybox", "--privileged"}, OptionsFor::kCreate);
  ASSERT_TRUE(create.ok());
  EXPECT_TRUE(create->privileged);
  EXPECT_FALSE(ParseRunOptions({"--image", "busybox", "--userns", "100000:65536"}, OptionsFor::kCreate).ok());
}

TEST(RunOptionsTest, BadInputIsAClearError) {
  EXPECT_NE(ErrorOf({"--", "true"}).find("--rootfs is required"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r"}).find("no command"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--bogus", "--", "true"}).find("unknown option \"--bogus\""), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--bogus=1", "--", "true"}).find("unknown option \"--bogus\""), std::string::npos);
  // The other caller's option is refused by its name, not by the value it would take.
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--restart", "no", "--", "true"}).find("--restart is an option of corralctl create only"),
            std::string::npos);
  absl::StatusOr<RunOptions> create = ParseRunOptions({"--image", "busybox", "--rootfs", "/r"}, OptionsFor::kCreate);
  ASSERT_FALSE(create.ok());
  EXPECT_NE(create.status().message().find("--rootfs is an option of corral-run only"), absl::string_view::npos);
  EXPECT_NE(ErrorOf({"--rootfs"}).find("missing value"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--net", "wifi", "--", "true"}).find("unknown mode"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--name", "-bad", "--", "true"}).find("invalid container name"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--hostname", "a_b", "--", "true"}).find("invalid hostname"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--memory", "lots", "--", "true"}).find("--memory"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--memory", "1k", "--", "true"}).find("at least 4M"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--pids", "0", "--", "true"}).find("--pids"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--cpu-weight", "20000", "--", "true"}).find("--cpu-weight"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "-e", "NOVALUE", "--", "true"}).find("KEY=VALUE"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--user", "bob", "--", "true"}).find("--user"), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--net", "none", "-p", "80:80", "--", "true"}).find("--net bridge"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "-p", "70000:80", "--", "true"}).find("-p: "), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "-p", "abc", "--", "true"}).find("-p: "), std::string::npos);
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "-p", "8080:80", "-p", "tcp:8080:81", "--", "true"}).find("-p: "),
            std::string::npos);
  // The same host port over UDP is a different forward.
  EXPECT_EQ(ErrorOf({"--rootfs", "/r", "-p", "8080:80", "-p", "udp:8080:80", "--", "true"}), "");
  EXPECT_NE(ErrorOf({"--rootfs", "/r", "--boot=yes"}).find("takes no value"), std::string::npos);
}

TEST(RunOptionsTest, ABlockDeviceIsRefusedNamingIt) {
  struct stat st;
  if (::stat("/dev/loop0", &st) != 0 || !S_ISBLK(st.st_mode)) GTEST_SKIP() << "no block device /dev/loop0 here";
  std::string error = ErrorOf({"--rootfs", "/r", "--device", "/dev/loop0", "--", "true"});
  EXPECT_NE(error.find("/dev/loop0 on the host is a block device; only character devices"), std::string::npos) << error;
}

}  // namespace
}  // namespace corral::tools

namespace corral::tools {
namespace {

TEST(RunOptionsTest, DeviceTakesTheHostNodeAndAccess) {
  // /dev/null is a character device on every host this runs on.
  auto parsed = ParseRunOptions({"--rootfs", "/r", "--device", "/dev/null:rw", "--device=/dev/zero", "--", "true"});
  ASSERT_FALSE(parsed.ok());  // both are default nodes already: refused, not silently doubled
  EXPECT_NE(std::string(parsed.status().message()).find("--device"), std::string::npos);
  if (::access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "no /dev/fuse here";
  parsed = ParseRunOptions({"--rootfs", "/r", "--device", "/dev/fuse:wr", "--", "true"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->spec.devices.size(), 1u);
  EXPECT_EQ(parsed->spec.devices[0].path, "/dev/fuse");
  EXPECT_EQ(parsed->spec.devices[0].type, 'c');
  EXPECT_EQ(parsed->spec.devices[0].major, 10u);
  EXPECT_EQ(parsed->spec.devices[0].minor, 229u);
  EXPECT_EQ(parsed->spec.devices[0].access, "rw");
}

TEST(RunOptionsTest, MalformedDevicesAreOneClearError) {
  struct Case {
    const char* spec;
    const char* says;
  } cases[] = {
      {"fuse", "under /dev/"},
      {"/tmp/x", "under /dev/"},
      {"/dev/", "under /dev/"},
      {"/dev/../etc/passwd", "plain"},
      {"/dev/no-such-node-here", "No such file"},
      {"/dev/pts", "not a character device"},
      {"/dev/null:rwx", "may only hold r, w and m"},
      {"/dev/null:rr", "given twice"},
      {"/dev/null:", "empty access"},
  };
  for (const Case& c : cases) {
    std::string error = ErrorOf({"--rootfs", "/r", "--device", c.spec, "--", "true"});
    EXPECT_NE(error.find("--device"), std::string::npos) << c.spec << ": " << error;
    EXPECT_NE(error.find(c.says), std::string::npos) << c.spec << ": " << error;
  }
}

}  // namespace
}  // namespace corral::tools
