// The registry and container configs without any bus: validation, persistence, removal.
#include "dbus/registry.h"
#include "dbus/test_registry_paths.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

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
    MakeTestRegistryPaths(dir_, &paths_);
  }
  std::string Allocations() { return ReadFile(dir_ + "/lib/idmap/allocations").value_or(""); }
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

// A created container survives a power cut only if both new directory entries are fsynced
// before Create returns: the container's directory in lib_root and the config in it.
TEST_F(RegistryTest, CreateFsyncsBothNewEntriesBeforeReturning) {
  Registry registry(paths_);
  auto created = registry.Create(Busybox("durable"));
  ASSERT_TRUE(created.ok()) << created.status();
  std::vector<std::string> synced = registry.last_create_synced_dirs();
  std::sort(synced.begin(), synced.end());
  std::vector<std::string> wanted = {paths_.lib_root, (*created)->paths.lib_dir};
  std::sort(wanted.begin(), wanted.end());
  EXPECT_EQ(synced, wanted);
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

// (Issue 13: a config that does not load is listed as broken, no longer skipped.)
TEST_F(RegistryTest, BrokenConfigIsListedAsBrokenAndReported) {
  ASSERT_TRUE(MakeDirectories(paths_.lib_root + "/junk", 0700).ok());
  ASSERT_TRUE(WriteFileAtomically(paths_.lib_root + "/junk/config", "name=junk\nnetwork=wifi\n").ok());
  Registry registry(paths_);
  std::vector<std::string> problems;
  ASSERT_TRUE(registry.Load(&problems).ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("wifi"), std::string::npos);
  ASSERT_NE(registry.Find("junk"), nullptr);
  EXPECT_EQ(registry.Find("junk")->state, ContainerState::kBroken);
  EXPECT_NE(registry.Find("junk")->problem.find("wifi"), std::string::npos);
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

// Found by tests/fuzz/container_config_fuzz: a creation time past INT64_MAX read back negative,
// and what FormatConfig then wrote did not parse.
TEST(ContainerConfigTest, ACreationTimePastInt64IsRefusedNotMisread) {
  ContainerConfig c;
  c.name = "t";
  c.image = "busybox";
  c.boot = true;
  c.created_usec = 1764634444360000;
  std::string text = FormatConfig(c);
  ASSERT_TRUE(ParseConfig(text).ok()) << ParseConfig(text).status();
  std::string huge = text;
  size_t at = huge.find("created_usec=1764634444360000");
  ASSERT_NE(at, std::string::npos);
  huge.replace(at, std::string("created_usec=1764634444360000").size(), "created_usec=17646344443600000000");
  absl::StatusOr<ContainerConfig> parsed = ParseConfig(huge);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("out of range"), absl::string_view::npos) << parsed.status();
}

TEST(ContainerConfigTest, StorageIsPersistedAndChecked) {
  ContainerConfig c;
  c.name = "st";
  c.image = "busybox";
  c.boot = true;
  c.binds = {"/srv/a:/a:ro", "/srv/b:/b:rw,idmap"};
  c.tmpfs = {"/t:mode=0700,size=65536"};
  c.volumes = {"data:/data:rw"};
  ASSERT_TRUE(ValidateConfig(c).ok());
  auto parsed = ParseConfig(FormatConfig(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->binds, c.binds);
  EXPECT_EQ(parsed->tmpfs, c.tmpfs);
  EXPECT_EQ(parsed->volumes, c.volumes);
  ContainerConfig bad = c;
  bad.privileged = true;  // idmap needs a user namespace
  EXPECT_FALSE(ValidateConfig(bad).ok());
  bad = c;
  bad.volumes = {"data:/a:rw"};  // /a twice
  EXPECT_FALSE(ValidateConfig(bad).ok());
  bad = c;
  bad.binds = {"/srv/a:/a"};  // not normalized
  EXPECT_FALSE(ValidateConfig(bad).ok());
}

TEST_F(RegistryTest, CreateAllocatesADisjointRangeAndRemoveFreesIt) {
  Registry registry(paths_);
  auto a = registry.Create(Busybox("a"));
  auto b = registry.Create(Busybox("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->config.uid_base, 1048576u);
  EXPECT_EQ((*b)->config.uid_base, 1048576u + 65536);
  EXPECT_EQ(Allocations(), "1048576 ctr:a\n1114112 ctr:b\n");
  // Kept in the config: a restarted corrald finds the same range.
  Registry again(paths_);
  std::vector<std::string> problems;
  ASSERT_TRUE(again.Load(&problems).ok());
  EXPECT_EQ(again.Find("b")->config.uid_base, 1048576u + 65536);
  // The pool is full: one clear error, nothing created.
  auto c = registry.Create(Busybox("c"));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(c.status())) << c.status();
  EXPECT_NE(::access((paths_.lib_root + "/c").c_str(), F_OK), 0);
  EXPECT_EQ(registry.Find("c"), nullptr);
  // A privileged one needs no range.
  ContainerConfig p = Busybox("p");
  p.privileged = true;
  auto privileged = registry.Create(p);
  ASSERT_TRUE(privileged.ok()) << privileged.status();
  EXPECT_EQ((*privileged)->config.uid_base, 0u);
  ASSERT_TRUE(registry.Remove("a").ok());
  EXPECT_EQ(Allocations(), "1114112 ctr:b\n");
  EXPECT_EQ((*registry.Create(Busybox("c")))->config.uid_base, 1048576u);
}

TEST_F(RegistryTest, BadPoolConfigRefusesCreateLeavingNothing) {
  ASSERT_TRUE(WriteFileAtomically(paths_.idmap_config, "range = 1048576 1000\n").ok());
  Registry registry(paths_);
  auto a = registry.Create(Busybox("a"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("multiple of 65536"), std::string::npos) << a.status();
  EXPECT_NE(::access((paths_.lib_root + "/a").c_str(), F_OK), 0);
}

TEST_F(RegistryTest, CheckConfigNamesABadPool) {
  ASSERT_TRUE(WriteFileAtomically(paths_.idmap_config, "range = 1048576 1000\n").ok());
  std::vector<std::string> warnings = Registry(paths_).CheckUserNamespaces();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("user namespace pool: "), std::string::npos) << warnings[0];
}

TEST_F(RegistryTest, ContainerFromBeforeUserNamespacesGetsARangeAtItsNextStart) {
  ASSERT_TRUE(MakeDirectories(paths_.lib_root + "/old", 0700).ok());
  // A config as an older corral wrote it: no privileged, no uid_base.
  ASSERT_TRUE(WriteFileAtomically(paths_.lib_root + "/old/config",
                                  "name=old\nimage=busybox\nimage_rootfs=" + paths_.images_root +
                                      "/busybox/rootfs\nnetwork=none\nboot=yes\n")
                  .ok());
  Registry registry(paths_);
  std::vector<std::string> problems;
  ASSERT_TRUE(registry.Load(&problems).ok());
  ContainerRecord* old = registry.Find("old");
  ASSERT_NE(old, nullptr);
  EXPECT_FALSE(old->config.privileged);
  EXPECT_EQ(old->config.uid_base, 0u);
  ASSERT_TRUE(registry.EnsureIdRange(old).ok());
  EXPECT_EQ(old->config.uid_base, 1048576u);
  EXPECT_NE(ReadFile(old->paths.config())->find("uid_base=1048576"), std::string::npos);
  // Idempotent; and a lost state file gets the range recorded again.
  ASSERT_TRUE(registry.EnsureIdRange(old).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/lib/idmap/allocations", "").ok());
  ASSERT_TRUE(registry.EnsureIdRange(old).ok());
  EXPECT_EQ(Allocations(), "1048576 ctr:old\n");
  // Someone else holds it now: refused, nothing changed.
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/lib/idmap/allocations", "1048576 ctr:thief\n").ok());
  absl::Status taken = registry.EnsureIdRange(old);
  EXPECT_TRUE(absl::IsFailedPrecondition(taken)) << taken;
  EXPECT_NE(taken.message().find("held by ctr:thief"), std::string::npos) << taken;
  EXPECT_EQ(Allocations(), "1048576 ctr:thief\n");
}

}  // namespace
}  // namespace corral::dbus

namespace corral::dbus {
namespace {

TEST(ContainerConfigTest, PrivilegedAndUidBaseRoundTripAndAreChecked) {
  ContainerConfig c;
  c.name = "x";
  c.image = "busybox";
  c.boot = true;
  c.uid_base = 524288;
  auto parsed = ParseConfig(FormatConfig(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->uid_base, 524288u);
  EXPECT_FALSE(parsed->privileged);
  c.uid_base = 0;
  c.privileged = true;
  parsed = ParseConfig(FormatConfig(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->privileged);
  EXPECT_EQ(FormatConfig(c).find("uid_base"), std::string::npos);
  // A privileged container with a range, or a range on the host's own ids, is refused.
  EXPECT_FALSE(ParseConfig("name=x\nimage=busybox\nboot=yes\nprivileged=yes\nuid_base=524288\n").ok());
  EXPECT_FALSE(ParseConfig("name=x\nimage=busybox\nboot=yes\nuid_base=1000\n").ok());
}

}  // namespace
}  // namespace corral::dbus

namespace corral::dbus {
namespace {

// A torn config (cut anywhere short of its end) is refused, never read as another container;
// one written before configs had their frame still loads.
TEST(ConfigFrameTest, TornConfigIsDetectedAtEveryCut) {
  ContainerConfig c;
  c.name = "web";
  c.image = "busybox";
  c.image_rootfs = "/var/lib/corral/images/busybox/rootfs";
  c.command = {"sleep", "100"};
  c.ports = {*netcfg::ParsePortForward("8080:80")};
  std::string text = FormatConfig(c);
  ASSERT_TRUE(ParseConfig(text).ok()) << ParseConfig(text).status();
  for (size_t cut = 1; cut < text.size(); ++cut) {
    absl::StatusOr<ContainerConfig> torn = ParseConfig(text.substr(0, cut));
    EXPECT_EQ(torn.status().code(), absl::StatusCode::kDataLoss) << "cut at " << cut << ": " << text.substr(0, cut);
  }
  EXPECT_EQ(ParseConfig("").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseConfig("\n").status().code(), absl::StatusCode::kDataLoss);
  // A line lost from the middle is seen too (the end line counts them).
  std::string missing = text;
  missing.erase(missing.find("command=sleep\n"), std::string("command=sleep\n").size());
  EXPECT_EQ(ParseConfig(missing).status().code(), absl::StatusCode::kDataLoss);
  // Written before the frame: read as always.
  EXPECT_TRUE(ParseConfig("name=old\nimage=busybox\nimage_rootfs=/x\ncommand=true\n").ok());
}

class BrokenConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-broken-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    paths_ = {dir_ + "/lib/containers", dir_ + "/run/containers", dir_ + "/lib/images"};
    paths_.idmap_config = dir_ + "/idmap.conf";
    ASSERT_TRUE(WriteFileAtomically(paths_.idmap_config, "range = 1048576 393216\nstate_dir = " + dir_ +
                                                             "/lib/idmap\nsubuid =\nsubgid =\n")
                    .ok());
    ASSERT_TRUE(MakeDirectories(paths_.images_root + "/busybox/rootfs", 0755).ok());
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }
  std::string dir_;
  RegistryPaths paths_;
};

// An empty, a torn and an unparsable config each keep their container listed as broken, with
// the error, so that its name is not lost and rm clears it (and frees its uid range).
TEST_F(BrokenConfigTest, BrokenConfigsAreListedAsBrokenAndRemovable) {
  {
    Registry registry(paths_);
    for (const char* name : {"empty", "torn", "garbage", "good"}) {
      ContainerConfig c;
      c.name = name;
      c.image = "busybox";
      c.boot = true;
      ASSERT_TRUE(registry.Create(c).ok());
    }
  }
  std::string lib = paths_.lib_root;
  ASSERT_TRUE(WriteFileAtomically(lib + "/empty/config", "").ok());
  std::string torn = *ReadFile(lib + "/torn/config");
  ASSERT_TRUE(WriteFileAtomically(lib + "/torn/config", torn.substr(0, torn.size() / 2)).ok());
  ASSERT_TRUE(WriteFileAtomically(lib + "/garbage/config", "\x01\x02 not a config at all").ok());
  ASSERT_TRUE(MakeDirectories(lib + "/not a name", 0700).ok());  // never corral's

  Registry registry(paths_);
  std::vector<std::string> problems;
  ASSERT_TRUE(registry.Load(&problems).ok());
  EXPECT_EQ(problems.size(), 4u);
  EXPECT_EQ(registry.Find("not a name"), nullptr);
  for (const char* name : {"empty", "torn", "garbage"}) {
    ContainerRecord* record = registry.Find(name);
    ASSERT_NE(record, nullptr) << name;
    EXPECT_EQ(record->state, ContainerState::kBroken) << name;
    EXPECT_EQ(ContainerStateName(record->state), "broken");
    EXPECT_NE(record->problem.find(lib + "/" + name + "/config"), std::string::npos) << record->problem;
  }
  EXPECT_NE(registry.Find("torn")->problem.find("torn"), std::string::npos) << registry.Find("torn")->problem;
  EXPECT_NE(registry.Find("empty")->problem.find("empty"), std::string::npos);
  ASSERT_NE(registry.Find("good"), nullptr);
  EXPECT_EQ(registry.Find("good")->state, ContainerState::kStopped);
  // The name stays taken while the broken one is listed; rm clears it and its range.
  ContainerConfig again;
  again.name = "torn";
  again.image = "busybox";
  again.boot = true;
  EXPECT_TRUE(absl::IsAlreadyExists(registry.Create(again).status()));
  for (const char* name : {"empty", "torn", "garbage"}) {
    EXPECT_TRUE(registry.Remove(name).ok()) << name;
    struct stat st;
    EXPECT_NE(::stat((lib + "/" + name).c_str(), &st), 0) << name;
  }
  std::string allocations = ReadFile(dir_ + "/lib/idmap/allocations").value_or("");
  EXPECT_EQ(allocations.find("torn"), std::string::npos) << allocations;
  EXPECT_TRUE(registry.Create(again).ok());
}

}  // namespace
}  // namespace corral::dbus
