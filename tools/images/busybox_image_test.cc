#include "tools/images/busybox_image.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/files.h"
#include "gtest/gtest.h"

namespace corral::images {
namespace {

TEST(BusyboxImageTest, BuildsTheLxcStyleTree) {
  if (::access(kBusyboxBinary, X_OK) != 0) GTEST_SKIP() << "busybox-static is not installed";
  char tmpl[] = "/tmp/corral-image-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  auto rootfs = BuildBusyboxImage(dir);
  ASSERT_TRUE(rootfs.ok()) << rootfs.status();
  EXPECT_EQ(*rootfs, dir + "/busybox/rootfs");
  struct stat st;
  for (const char* path : {"bin/busybox", "bin/sh", "sbin/init", "bin/ls", "etc/passwd", "etc/group",
                           "etc/inittab", "etc/hostname", "proc", "sys", "dev", "tmp", "run"}) {
    EXPECT_EQ(::lstat((*rootfs + "/" + path).c_str(), &st), 0) << path;
  }
  char target[64] = {};
  ASSERT_GT(::readlink((*rootfs + "/bin/sh").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "/bin/busybox");
  EXPECT_NE(ReadFile(*rootfs + "/etc/passwd")->find("root:x:0:0"), std::string::npos);
  ASSERT_EQ(::stat((*rootfs + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777);
  // Building again replaces the tree and leaves no staging directories behind.
  ASSERT_TRUE(BuildBusyboxImage(dir).ok());
  int entries = 0;
  for (const char* name : {"rootfs"}) entries += ::access((dir + "/busybox/" + name).c_str(), F_OK) == 0;
  EXPECT_EQ(entries, 1);
  EXPECT_TRUE(RemoveTree(dir).ok());
}

TEST(BusyboxImageTest, DynamicBusyboxIsRejected) {
  char tmpl[] = "/tmp/corral-image-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  auto rootfs = BuildBusyboxImage(tmpl, "/bin/ls");
  EXPECT_FALSE(rootfs.ok());
  EXPECT_NE(rootfs.status().message().find("busybox-static"), std::string::npos) << rootfs.status();
  EXPECT_TRUE(RemoveTree(tmpl).ok());
}

}  // namespace
}  // namespace corral::images
