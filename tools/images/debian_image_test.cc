// The Debian image helpers that need no network: the mirror from apt sources, tarball import
// and the image store's swap and listing. (debootstrap itself runs in tests/system.)
#include "tools/images/debian_image.h"

#include <stdlib.h>

#include "common/files.h"
#include "gtest/gtest.h"
#include "tools/images/image_store.h"

namespace corral::images {
namespace {

TEST(DebianImageTest, MirrorFromAptSources) {
  EXPECT_EQ(MirrorFromAptSources("Types: deb\nURIs: http://deb.debian.org/debian-security\n\n"
                                 "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n"),
            "http://mirror.example/debian");
  EXPECT_EQ(MirrorFromAptSources("# comment\ndeb [arch=amd64] http://ftp.example/debian bookworm main\n"),
            "http://ftp.example/debian");
  EXPECT_EQ(MirrorFromAptSources("deb http://archive.ubuntu.com/ubuntu jammy main\n"),
            "http://archive.ubuntu.com/ubuntu");
  EXPECT_EQ(MirrorFromAptSources(""), "http://deb.debian.org/debian");
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-images-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }
  std::string dir_;
};

TEST_F(ImageStoreTest, ImportUnpacksATarballAndListShowsIt) {
  std::string src = dir_ + "/src";
  ASSERT_TRUE(MakeDirectories(src + "/etc", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(src + "/etc/os-release", "ID=test\n").ok());
  std::string tarball = dir_ + "/root.tar.gz";
  ASSERT_TRUE(RunProgram({"tar", "-czf", tarball, "-C", src, "."}).ok());
  auto rootfs = ImportTarball(dir_ + "/store", "mini", tarball);
  ASSERT_TRUE(rootfs.ok()) << rootfs.status();
  EXPECT_EQ(*ReadFile(*rootfs + "/etc/os-release"), "ID=test\n");
  auto images = ListImages(dir_ + "/store");
  ASSERT_TRUE(images.ok());
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0].name, "mini");
  EXPECT_GT((*images)[0].bytes, 0u);
  EXPECT_GT((*images)[0].created_sec, 0);
}

TEST_F(ImageStoreTest, BadImportsLeaveNothing) {
  EXPECT_FALSE(ImportTarball(dir_ + "/store", "x", dir_ + "/missing.tar").ok());
  std::string src = dir_ + "/notroot";
  ASSERT_TRUE(MakeDirectories(src + "/stuff", 0755).ok());
  ASSERT_TRUE(RunProgram({"tar", "-cf", dir_ + "/bad.tar", "-C", src, "."}).ok());
  auto bad = ImportTarball(dir_ + "/store", "x", dir_ + "/bad.tar");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("no root file system"), std::string::npos);
  EXPECT_FALSE(ImportTarball(dir_ + "/store", "bad/name", dir_ + "/bad.tar").ok());
  auto images = ListImages(dir_ + "/store");
  ASSERT_TRUE(images.ok());
  EXPECT_TRUE(images->empty());
}

}  // namespace
}  // namespace corral::images
