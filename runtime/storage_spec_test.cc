// Parsing and normalizing --bind, --tmpfs and --volume text (runtime/storage_spec.h).
#include "runtime/storage_spec.h"

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

TEST(StorageSpecTest, BindsParseAndNormalize) {
  absl::StatusOr<BindSpec> b = ParseBindSpec("/srv//data/:/var/www/:ro,idmap");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->source, "/srv/data");
  EXPECT_EQ(b->target, "/var/www");
  EXPECT_TRUE(b->read_only);
  EXPECT_TRUE(b->idmap);
  EXPECT_EQ(FormatBindSpec(*b), "/srv/data:/var/www:ro,idmap");
  EXPECT_EQ(FormatBindSpec(*ParseBindSpec("/a:/b")), "/a:/b:rw");
  for (const char* bad : {"/a", "/a:b", "a:/b", "/a:/", "/a:/proc/x", "/a:/sys", "/a:/x/../y", "/a:/b:ro,rw", "/a:/b:nosuid",
                          "/a:/b:ro:x", "/../a:/b"}) {
    EXPECT_FALSE(ParseBindSpec(bad).ok()) << bad;
  }
}

TEST(StorageSpecTest, TmpfsAndVolumes) {
  absl::StatusOr<TmpfsSpec> t = ParseTmpfsSpec("/cache:size=64M,mode=0700");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->size_bytes, uint64_t{64} << 20);
  EXPECT_EQ(t->mode, 0700u);
  EXPECT_EQ(FormatTmpfsSpec(*t), "/cache:mode=0700,size=67108864");
  EXPECT_EQ(TmpfsMountData(*ParseTmpfsSpec("/t")), "mode=1777");
  for (const char* bad : {"t", "/t:size=", "/t:size=1", "/t:mode=8", "/t:mode=17777", "/t:uid=0", "/"}) {
    EXPECT_FALSE(ParseTmpfsSpec(bad).ok()) << bad;
  }
  absl::StatusOr<VolumeMountSpec> v = ParseVolumeMountSpec("data:/var/lib/db:ro");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(FormatVolumeMountSpec(*v), "data:/var/lib/db:ro");
  for (const char* bad : {"data", "../x:/a", "a b:/a", ":/a", "x:/a:rx", "x:relative"}) {
    EXPECT_FALSE(ParseVolumeMountSpec(bad).ok()) << bad;
  }
  EXPECT_FALSE(CheckDistinctTargets({"/a", "/b", "/a"}).ok());
  EXPECT_TRUE(CheckDistinctTargets({"/a", "/a/b"}).ok());
}

}  // namespace
}  // namespace corral::runtime
