#include "dbus/state_dirs.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/files.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class StateDirsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-state-dirs.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    paths_.lib_root = dir_ + "/lib/containers";
    paths_.images_root = dir_ + "/lib/images";
    paths_.run_root = dir_ + "/run/containers";
  }
  void TearDown() override { EXPECT_TRUE(RemoveTree(dir_).ok()); }
  std::string dir_;
  RegistryPaths paths_;
};

TEST_F(StateDirsTest, FreshDirectoriesAreTraversableOrPrivate) {
  ASSERT_TRUE(SecureStateDirectories(paths_).ok());
  EXPECT_EQ(ModeOf(dir_ + "/lib"), 0711u);
  EXPECT_EQ(ModeOf(dir_ + "/run"), 0711u);
  EXPECT_EQ(ModeOf(paths_.lib_root), 0700u);
  EXPECT_EQ(ModeOf(paths_.images_root), 0700u);
  EXPECT_EQ(ModeOf(paths_.run_root), 0711u);  // each container's own is 0710 root:BASE
}

// What an older corral (and install.sh's `install -d`) left: everything 0755.
TEST_F(StateDirsTest, AnOldWorldReadableStoreIsTightenedAndNothingIsLoosened) {
  for (const std::string& d : {dir_ + "/lib", paths_.lib_root, paths_.images_root, paths_.images_root + "/busybox",
                               paths_.images_root + "/busybox/rootfs", dir_ + "/run", paths_.run_root}) {
    ASSERT_TRUE(MakeDirectories(d, 0755).ok());
    ASSERT_EQ(::chmod(d.c_str(), 0755), 0);
  }
  ASSERT_TRUE(MakeDirectories(paths_.images_root + "/tight", 0700).ok());
  ASSERT_EQ(::chmod((dir_ + "/run").c_str(), 0700), 0);  // tighter than asked: stays
  ASSERT_EQ(::symlink("/etc", (paths_.images_root + "/link").c_str()), 0);
  ASSERT_TRUE(SecureStateDirectories(paths_).ok());
  EXPECT_EQ(ModeOf(dir_ + "/lib"), 0711u);
  EXPECT_EQ(ModeOf(dir_ + "/run"), 0700u);
  EXPECT_EQ(ModeOf(paths_.lib_root), 0700u);
  EXPECT_EQ(ModeOf(paths_.images_root), 0700u);
  EXPECT_EQ(ModeOf(paths_.images_root + "/busybox"), 0700u);
  EXPECT_EQ(ModeOf(paths_.images_root + "/tight"), 0700u);
  // The image's own tree keeps its modes (a container's / is 0755); a symlink is left alone.
  EXPECT_EQ(ModeOf(paths_.images_root + "/busybox/rootfs"), 0755u);
  EXPECT_EQ(ModeOf("/etc"), 0755u);
}

TEST_F(StateDirsTest, ASymlinkInPlaceOfAStateDirectoryIsRefused) {
  ASSERT_TRUE(MakeDirectories(dir_ + "/lib", 0711).ok());
  ASSERT_EQ(::symlink("/etc", paths_.images_root.c_str()), 0);
  absl::Status status = SecureStateDirectories(paths_);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(paths_.images_root), std::string::npos) << status;
  EXPECT_EQ(ModeOf("/etc"), 0755u);
}

}  // namespace
}  // namespace corral::dbus
