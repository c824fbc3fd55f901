// An OCI image's config as a new container's defaults: Entrypoint + Cmd only without a given
// command, the image's Env under the given one, WorkingDir, User, StopSignal; layers top first;
// a missing layer or a broken record refused; single-tree images untouched.
#include "dbus/image_defaults.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/files.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

namespace oci = images::oci;

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

class ImageDefaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = ::getenv("TEST_TMPDIR");
    char templ[256];
    std::snprintf(templ, sizeof(templ), "%s/defaults-XXXXXX", tmp != nullptr ? tmp : "/tmp");
    ASSERT_NE(::mkdtemp(templ), nullptr);
    root_ = templ;
    record_.name = "web";
    record_.layers = {{kA, kA, "gzip", 1, 1}, {kB, kB, "none", 1, 1}};
    record_.config.entrypoint = {"/bin/sh", "-c"};
    record_.config.cmd = {"echo hi"};
    record_.config.env = {"PATH=/usr/bin", "FOO=image"};
    record_.config.working_dir = "/srv";
    record_.uid = 1000;
    record_.gid = 1001;
    record_.stop_signal = SIGINT;
    for (const std::string& d : {kA, kB}) ASSERT_TRUE(MakeDirectories(oci::LayerDir(root_, d)).ok());
    config_.name = "c";
    config_.image = "web";
  }
  void TearDown() override { RemoveTree(root_).IgnoreError(); }
  std::string root_;
  oci::ImageRecord record_;
  ContainerConfig config_;
};

TEST_F(ImageDefaultsTest, NoCommandTakesEntrypointAndCmd) {
  ASSERT_TRUE(ApplyImageRecord(root_, record_, &config_).ok());
  EXPECT_EQ(config_.command, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(config_.image_layers, (std::vector<std::string>{oci::LayerDir(root_, kB), oci::LayerDir(root_, kA)}));
  EXPECT_EQ(config_.image_rootfs, oci::LayerDir(root_, kB));
  EXPECT_EQ(config_.cwd, "/srv");
  EXPECT_EQ(config_.uid, 1000u);
  EXPECT_EQ(config_.gid, 1001u);
  EXPECT_EQ(config_.stop_signal, SIGINT);
  EXPECT_EQ(config_.env, (std::vector<std::string>{"PATH=/usr/bin", "FOO=image"}));
}

TEST_F(ImageDefaultsTest, AGivenCommandReplacesBothAndGivenEnvWins) {
  config_.command = {"sleep", "1"};
  config_.env = {"FOO=given", "BAR=1"};
  ASSERT_TRUE(ApplyImageRecord(root_, record_, &config_).ok());
  EXPECT_EQ(config_.command, (std::vector<std::string>{"sleep", "1"}));
  EXPECT_EQ(config_.env, (std::vector<std::string>{"PATH=/usr/bin", "FOO=given", "BAR=1"}));
  // Applied twice (corralctl clone creates with the source's command and env): the same.
  ContainerConfig again = config_;
  ASSERT_TRUE(ApplyImageRecord(root_, record_, &again).ok());
  EXPECT_EQ(again.command, config_.command);
  EXPECT_EQ(again.env, config_.env);
}

TEST_F(ImageDefaultsTest, NeitherEntrypointNorCmdLeavesTheCommandEmpty) {
  record_.config.entrypoint.clear();
  record_.config.cmd.clear();
  ASSERT_TRUE(ApplyImageRecord(root_, record_, &config_).ok());
  EXPECT_TRUE(config_.command.empty());  // CreateContainer then boots /sbin/init, as before
}

TEST_F(ImageDefaultsTest, AMissingLayerIsRefused) {
  ASSERT_TRUE(RemoveTree(oci::LayerDir(root_, kA)).ok());
  absl::Status status = ApplyImageRecord(root_, record_, &config_);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("import the image again"), std::string::npos) << status;
  EXPECT_TRUE(config_.image_layers.empty());
}

TEST_F(ImageDefaultsTest, ReadsTheRecordFromTheStore) {
  ASSERT_TRUE(MakeDirectories(root_ + "/web").ok());
  ASSERT_TRUE(WriteFileAtomically(root_ + "/web/image.json", oci::FormatRecord(record_)).ok());
  ASSERT_TRUE(ApplyImageDefaults(root_, &config_).ok());
  EXPECT_EQ(config_.image_layers.size(), 2u);
  ASSERT_TRUE(WriteFileAtomically(root_ + "/web/image.json", "{").ok());
  ContainerConfig broken;
  broken.image = "web";
  EXPECT_FALSE(ApplyImageDefaults(root_, &broken).ok());
  // Single-tree images and directories are left alone.
  ContainerConfig tree;
  tree.image = "busybox";
  ASSERT_TRUE(ApplyImageDefaults(root_, &tree).ok());
  EXPECT_TRUE(tree.image_layers.empty());
  tree.image = "/some/dir";
  ASSERT_TRUE(ApplyImageDefaults(root_, &tree).ok());
  tree.image = "../web";
  ASSERT_TRUE(ApplyImageDefaults(root_, &tree).ok());
  EXPECT_TRUE(tree.image_layers.empty());
}

TEST_F(ImageDefaultsTest, TheConfigKeepsItAll) {
  ASSERT_TRUE(ApplyImageRecord(root_, record_, &config_).ok());
  absl::StatusOr<ContainerConfig> back = ParseConfig(FormatConfig(config_));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->image_layers, config_.image_layers);
  EXPECT_EQ(back->cwd, "/srv");
  EXPECT_EQ(back->uid, 1000u);
  EXPECT_EQ(back->gid, 1001u);
  EXPECT_EQ(back->stop_signal, SIGINT);
  std::string text = FormatConfig(config_);
  EXPECT_FALSE(ParseConfig(absl::StrCat("format=corral-config-1\nname=c\nimage=web\ncommand=x\nuser=x:y\nend=5\n")).ok());
  EXPECT_FALSE(ParseConfig("name=c\nimage=web\ncommand=x\ncwd=relative\n").ok());
  EXPECT_FALSE(ParseConfig("name=c\nimage=web\ncommand=x\nstop_signal=99\n").ok());
  EXPECT_FALSE(ParseConfig("name=c\nimage=web\ncommand=x\nimage_layer=relative\n").ok());
}

TEST_F(ImageDefaultsTest, TheStoreLockIsHeldForANamedImageAndRefusedWhileAnImportHoldsIt) {
  // A directory given as the image, or a name not in the store: no lock.
  absl::StatusOr<std::optional<FileLock>> none = HoldImageStore(root_, "/srv/tree");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  none = HoldImageStore(root_, "nosuch");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(MakeDirectories(root_ + "/web").ok());
  const std::string lock_path = oci::StoreLockPath(root_);
  {
    absl::StatusOr<std::optional<FileLock>> held = HoldImageStore(root_, "web");
    ASSERT_TRUE(held.ok()) << held.status();
    ASSERT_TRUE(held->has_value());
    // What an importer's flock meets meanwhile (another open file description).
    int other = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(other, 0);
    EXPECT_NE(::flock(other, LOCK_EX | LOCK_NB), 0);
    ::close(other);
  }
  // An importer holds it: refused at once, saying why; free again once it lets go.
  int importer = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(importer, 0);
  ASSERT_EQ(::flock(importer, LOCK_EX | LOCK_NB), 0);
  absl::StatusOr<std::optional<FileLock>> busy = HoldImageStore(root_, "web");
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable) << busy.status();
  EXPECT_NE(busy.status().message().find("image store is busy"), std::string::npos) << busy.status();
  ::close(importer);
  EXPECT_TRUE(HoldImageStore(root_, "web").ok());
}

}  // namespace
}  // namespace corral::dbus
