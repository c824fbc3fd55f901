// The layer unpacker and the store, as root on a scratch directory: whiteouts and opaque
// directories as overlay's, the escapes a hostile layer tries (.., absolute, through a symlink
// it planted, a hard link out) refused with nothing written outside, gzip and zstd, digests
// checked with nothing left on a mismatch, layers shared and kept by image rm.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/files.h"
#include "gtest/gtest.h"
#include "tools/images/image_store.h"
#include "tools/images/oci/layer_unpack.h"
#include "tools/images/oci/oci_format.h"
#include "tools/images/oci/oci_store.h"
#include "tools/images/oci/sha256.h"

namespace corral::images::oci {
namespace {

// A ustar archive written by hand, so names GNU tar refuses to write can be tried.
class TarWriter {
 public:
  void Add(const std::string& name, char type, const std::string& data = "", const std::string& link = "",
           int mode = 0644, int major = 0, int minor = 0) {
    char h[512] = {};
    std::snprintf(h, 100, "%s", name.c_str());
    std::snprintf(h + 100, 8, "%07o", mode);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    std::snprintf(h + 124, 12, "%011o", static_cast<unsigned>(type == '0' ? data.size() : 0));
    std::snprintf(h + 136, 12, "%011o", 1700000000u);
    h[156] = type;
    std::snprintf(h + 157, 100, "%s", link.c_str());
    std::memcpy(h + 257, "ustar\0" "00", 8);
    std::snprintf(h + 329, 8, "%07o", major);
    std::snprintf(h + 337, 8, "%07o", minor);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (char c : h) sum += static_cast<unsigned char>(c);
    std::snprintf(h + 148, 8, "%06o", sum);
    out_.append(h, 512);
    if (type == '0') {
      out_ += data;
      out_.append((512 - data.size() % 512) % 512, '\0');
    }
  }
  std::string Finish() { return out_ + std::string(1024, '\0'); }

 private:
  std::string out_;
};

class StringReader : public Reader {
 public:
  explicit StringReader(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t size) override {
    size_t n = std::min(size, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

class OciStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (owners, whiteout device nodes, trusted.* xattrs)";
    // In /tmp, not TEST_TMPDIR: the tar headers written here hold names and link targets of
    // at most 99 bytes, and absolute ones point into this directory.
    char templ[] = "/tmp/corral-oci-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    ASSERT_EQ(::mkdir((dir_ + "/layer").c_str(), 0700), 0);
    ASSERT_EQ(::mkdir((dir_ + "/decoy").c_str(), 0700), 0);
  }
  void TearDown() override {
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
  }
  absl::StatusOr<UnpackStats> Unpack(const std::string& tar) {
    int fd = ::open((dir_ + "/layer").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    StringReader reader(tar);
    absl::StatusOr<UnpackStats> stats = UnpackLayer(&reader, fd);
    ::close(fd);
    return stats;
  }
  bool Exists(const std::string& rel) {
    struct stat st;
    return ::lstat((dir_ + "/" + rel).c_str(), &st) == 0;
  }
  bool DecoyEmpty() { return !Exists("decoy/x") && !Exists("decoy/escaped") && !Exists("escaped"); }
  std::string dir_;
};

TEST_F(OciStoreTest, UnpacksFilesLinksWhiteoutsAndOpaqueDirs) {
  TarWriter t;
  t.Add("./", '5', "", "", 0755);
  t.Add("./etc/", '5', "", "", 0755);
  t.Add("./etc/hosts", '0', "127.0.0.1 localhost\n", "", 0600);
  t.Add("./etc/hard", '1', "", "etc/hosts");
  t.Add("./bin/sh", '2', "", "/bin/busybox");  // parent made as needed
  t.Add("./.wh.gone", '0');
  t.Add("./opq/.wh..wh..opq", '0');
  t.Add("./dev/sda", '4', "", "", 0600, 8, 0);  // a device node: not made
  t.Add("./setuid", '0', "x", "", 04755);
  absl::StatusOr<UnpackStats> stats = Unpack(t.Finish());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->whiteouts, 1);
  EXPECT_EQ(stats->opaque_dirs, 1);
  EXPECT_EQ(stats->skipped_devices, 1);
  struct stat st, hard;
  ASSERT_EQ(::lstat((dir_ + "/layer/etc/hosts").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtime, 1700000000);
  ASSERT_EQ(::lstat((dir_ + "/layer/etc/hard").c_str(), &hard), 0);
  EXPECT_EQ(hard.st_ino, st.st_ino);
  char target[64] = {};
  ASSERT_GT(::readlink((dir_ + "/layer/bin/sh").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "/bin/busybox");
  ASSERT_EQ(::lstat((dir_ + "/layer/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, ::makedev(0, 0));
  EXPECT_FALSE(Exists("layer/.wh.gone"));
  char value[8] = {};
  ASSERT_EQ(::getxattr((dir_ + "/layer/opq").c_str(), "trusted.overlay.opaque", value, sizeof(value)), 1);
  EXPECT_EQ(value[0], 'y');
  EXPECT_FALSE(Exists("layer/dev/sda"));
  ASSERT_EQ(::lstat((dir_ + "/layer/setuid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);  // kept: the store is root's alone
}

TEST_F(OciStoreTest, ALaterEntryReplacesAnEarlierOne) {
  TarWriter t;
  t.Add("a", '0', "one");
  t.Add("a", '0', "two");
  t.Add("d/f", '0', "x");
  t.Add("d", '0', "now a file");
  ASSERT_TRUE(Unpack(t.Finish()).ok());
  EXPECT_EQ(*ReadFile(dir_ + "/layer/a"), "two");
  EXPECT_EQ(*ReadFile(dir_ + "/layer/d"), "now a file");
}

TEST_F(OciStoreTest, DotDotIsRefused) {
  TarWriter t;
  t.Add("ok", '0', "x");
  t.Add("../escaped", '0', "x");
  absl::Status status = Unpack(t.Finish()).status();
  EXPECT_NE(status.message().find("\"..\" in the path: refused"), std::string::npos) << status;
  EXPECT_TRUE(DecoyEmpty());
  TarWriter u;
  u.Add("a/../../escaped", '0', "x");
  EXPECT_FALSE(Unpack(u.Finish()).ok());
  EXPECT_TRUE(DecoyEmpty());
}

TEST_F(OciStoreTest, AbsoluteNamesAreRefused) {
  TarWriter t;
  t.Add(dir_ + "/decoy/x", '0', "x");
  absl::Status status = Unpack(t.Finish()).status();
  EXPECT_NE(status.message().find("absolute path: refused"), std::string::npos) << status;
  EXPECT_TRUE(DecoyEmpty());
}

TEST_F(OciStoreTest, PathsThroughAPlantedSymlinkAreRefused) {
  for (const std::string& link : {dir_ + "/decoy", std::string("../decoy"), std::string("../../../../../../../../" + dir_ + "/decoy")}) {
    RemoveTree(dir_ + "/layer").IgnoreError();
    ::mkdir((dir_ + "/layer").c_str(), 0700);
    TarWriter t;
    t.Add("planted", '2', "", link);
    t.Add("planted/x", '0', "x");
    absl::Status status = Unpack(t.Finish()).status();
    EXPECT_NE(status.message().find("goes through a symbolic link"), std::string::npos) << link << ": " << status;
    EXPECT_TRUE(DecoyEmpty()) << link;
    // The same through a directory below the link, and as a whiteout's or hard link's parent.
    TarWriter u;
    u.Add("planted", '2', "", link);
    u.Add("planted/sub/x", '0', "x");
    EXPECT_FALSE(Unpack(u.Finish()).ok());
    TarWriter w;
    w.Add("planted", '2', "", link);
    w.Add("planted/.wh.x", '0');
    EXPECT_FALSE(Unpack(w.Finish()).ok());
    TarWriter o;
    o.Add("planted", '2', "", link);
    o.Add("planted/.wh..wh..opq", '0');
    EXPECT_FALSE(Unpack(o.Finish()).ok());
    EXPECT_TRUE(DecoyEmpty()) << link;
    char value[8];
    EXPECT_LT(::getxattr((dir_ + "/decoy").c_str(), "trusted.overlay.opaque", value, sizeof(value)), 0);
  }
}

TEST_F(OciStoreTest, HardLinksOutOfTheLayerAreRefused) {
  std::string outside = dir_ + "/decoy-file";
  ASSERT_TRUE(WriteFileAtomically(outside, "decoy").ok());
  TarWriter t;
  t.Add("hl", '1', "", "../decoy-file");
  EXPECT_NE(Unpack(t.Finish()).status().message().find("refused"), std::string::npos);
  TarWriter u;
  u.Add("hl", '1', "", outside);
  EXPECT_FALSE(Unpack(u.Finish()).ok());
  TarWriter v;  // through a planted symlink
  ASSERT_LT(dir_.size(), 90u);
  v.Add("planted", '2', "", dir_);
  v.Add("hl", '1', "", "planted/decoy-file");
  EXPECT_FALSE(Unpack(v.Finish()).ok());
  struct stat st;
  ASSERT_EQ(::stat(outside.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
  TarWriter w;
  w.Add("hl", '1', "", "missing");
  EXPECT_NE(Unpack(w.Finish()).status().message().find("does not hold"), std::string::npos);
}

TEST_F(OciStoreTest, CorruptHeadersAndTruncationAreErrors) {
  TarWriter t;
  t.Add("a", '0', "hello");
  std::string tar = t.Finish();
  std::string bad = tar;
  bad[10] = 'X';  // the name changes, the checksum does not
  EXPECT_NE(Unpack(bad).status().message().find("checksum"), std::string::npos);
  EXPECT_NE(Unpack(tar.substr(0, 600)).status().message().find("cut short"), std::string::npos);
  TarWriter s;
  s.Add("sparse", 'S', "");
  EXPECT_NE(Unpack(s.Finish()).status().message().find("not supported"), std::string::npos);
}

TEST(CleanEntryNameTest, Normalizes) {
  EXPECT_EQ(*CleanEntryName("./a//b/./c/"), "a/b/c");
  EXPECT_EQ(*CleanEntryName("./"), "");
  EXPECT_FALSE(CleanEntryName("/etc/passwd").ok());
  EXPECT_FALSE(CleanEntryName("a/../b").ok());
  EXPECT_FALSE(CleanEntryName("..").ok());
  EXPECT_FALSE(CleanEntryName(std::string("a\0b", 3)).ok());
}

// ---- the store ----

std::string Hex(const std::string& data) { return DigestHex(Sha256Digest(data)); }

// An OCI layout of one image tagged `tag`, layers given as tar bytes (plain).
void WriteLayout(const std::string& dir, const std::string& tag, const std::vector<std::string>& layers,
                 const std::string& config_object = "{\"Cmd\":[\"sleep\",\"1\"]}") {
  MakeDirectories(dir + "/blobs/sha256").IgnoreError();
  std::string diff_ids, descs;
  for (const std::string& l : layers) {
    WriteFileAtomically(dir + "/blobs/sha256/" + Hex(l), l).IgnoreError();
    diff_ids += (diff_ids.empty() ? "\"" : ",\"") + Sha256Digest(l) + "\"";
    descs += std::string(descs.empty() ? "" : ",") + "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" +
             Sha256Digest(l) + "\",\"size\":" + std::to_string(l.size()) + "}";
  }
  std::string config = "{\"config\":" + config_object + ",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + diff_ids + "]}}";
  WriteFileAtomically(dir + "/blobs/sha256/" + Hex(config), config).IgnoreError();
  std::string manifest = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" +
                         Sha256Digest(config) + "\",\"size\":" + std::to_string(config.size()) + "},\"layers\":[" + descs + "]}";
  WriteFileAtomically(dir + "/blobs/sha256/" + Hex(manifest), manifest).IgnoreError();
  WriteFileAtomically(dir + "/index.json", "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" + std::string(kMediaOciManifest) +
                                               "\",\"digest\":\"" + Sha256Digest(manifest) + "\",\"size\":" +
                                               std::to_string(manifest.size()) +
                                               ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + tag + "\"}}]}")
      .IgnoreError();
}

std::string Layer(const std::string& file, const std::string& data) {
  TarWriter t;
  t.Add(file, '0', data);
  return t.Finish();
}

class ImportTest : public OciStoreTest {
 protected:
  absl::StatusOr<ImportReport> Import(const std::string& name, const std::string& source) {
    ImportOptions o;
    o.images_dir = dir_ + "/images";
    o.containers_dir = dir_ + "/containers";
    o.name = name;
    o.source = source;
    return ImportImage(o);
  }
  ino_t Inode(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }
  int LayerCount() {
    int n = 0;
    std::string store = dir_ + "/images/layers/sha256";
    if (DIR* d = ::opendir(store.c_str())) {
      while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
      ::closedir(d);
    }
    return n;
  }
};

TEST_F(ImportTest, SharesLayersAndUnpacksNothingTwice) {
  std::string base = Layer("base", "shared"), top = Layer("top", "a"), other = Layer("other", "b");
  WriteLayout(dir_ + "/a", "v1", {base, top}, R"({"Entrypoint":["/bin/sh"],"User":"7:8","StopSignal":"SIGINT"})");
  WriteLayout(dir_ + "/b", "v1", {base, other});
  absl::StatusOr<ImportReport> a = Import("a", "oci:" + dir_ + "/a:v1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->unpacked, 2);
  EXPECT_EQ(a->record.uid, 7u);
  EXPECT_EQ(a->record.gid, 8u);
  EXPECT_EQ(a->record.stop_signal, SIGINT);
  const std::string base_dir = LayerDir(dir_ + "/images", Sha256Digest(base));
  ino_t inode = Inode(base_dir + "/base");
  ASSERT_NE(inode, 0u);
  absl::StatusOr<ImportReport> again = Import("a", "oci:" + dir_ + "/a");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->unpacked, 0);
  EXPECT_EQ(Inode(base_dir + "/base"), inode);
  absl::StatusOr<ImportReport> b = Import("b", "oci:" + dir_ + "/b:v1");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->unpacked, 1);
  EXPECT_EQ(Inode(base_dir + "/base"), inode);
  EXPECT_EQ(LayerCount(), 3);
  absl::StatusOr<std::vector<StoreImage>> list = ListStore(dir_ + "/images");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].layers, 2);
  EXPECT_EQ((*list)[0].kind, "oci");
  // rm keeps the shared layer for b; a container's config keeps b's own layer after b goes.
  absl::StatusOr<RemoveReport> removed = RemoveImage(dir_ + "/images", dir_ + "/containers", "a");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->layers_removed, 1);
  EXPECT_EQ(removed->layers_kept, 1);
  EXPECT_EQ(Inode(base_dir + "/base"), inode);
  ASSERT_TRUE(MakeDirectories(dir_ + "/containers/c1").ok());
  std::string other_dir = LayerDir(dir_ + "/images", Sha256Digest(other));
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/containers/c1/config", "image=b\nimage_layer=" + other_dir + "\n").ok());
  absl::Status busy = RemoveImage(dir_ + "/images", dir_ + "/containers", "b").status();
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition) << busy;
  EXPECT_NE(busy.message().find("used by container c1"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/containers/c1/config", "image=elsewhere\nimage_layer=" + other_dir + "\n").ok());
  ASSERT_TRUE(RemoveImage(dir_ + "/images", dir_ + "/containers", "b").ok());
  EXPECT_TRUE(Exists("images/layers/sha256/" + Hex(other)));
  EXPECT_FALSE(Exists("images/layers/sha256/" + Hex(base)));
  EXPECT_EQ(RemoveImage(dir_ + "/images", dir_ + "/containers", "b").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImportTest, ADigestMismatchLeavesNothing) {
  std::string good = Layer("good", "1"), bad = Layer("bad", "2");
  WriteLayout(dir_ + "/x", "v1", {good, bad});
  // The second layer's blob changed after the manifest was written (same size).
  std::string changed = bad;
  changed[512] = 'X';
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/x/blobs/sha256/" + Hex(bad), changed).ok());
  absl::Status status = Import("x", "oci:" + dir_ + "/x").status();
  EXPECT_NE(status.message().find("digest mismatch"), std::string::npos) << status;
  EXPECT_NE(status.message().find("nothing was"), std::string::npos) << status;
  EXPECT_EQ(LayerCount(), 0);  // the first layer, unpacked already, went again
  EXPECT_FALSE(Exists("images/x"));
  EXPECT_FALSE(Exists("images/layers/sha256/.tmp-" + Hex(bad) + "-" + std::to_string(::getpid())));
}

TEST_F(ImportTest, ABadManifestOrConfigDigestIsRefused) {
  std::string l = Layer("f", "1");
  WriteLayout(dir_ + "/x", "v1", {l});
  // Corrupt every JSON blob but the layer: the manifest's digest no longer matches.
  std::string manifest_hex;
  absl::StatusOr<std::string> index = ReadFile(dir_ + "/x/index.json");
  ASSERT_TRUE(index.ok());
  size_t at = index->find("sha256:") + 7;
  manifest_hex = index->substr(at, 64);
  absl::StatusOr<std::string> manifest = ReadFile(dir_ + "/x/blobs/sha256/" + manifest_hex);
  ASSERT_TRUE(manifest.ok());
  std::string changed = *manifest;
  changed[changed.size() - 2] = ' ';
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/x/blobs/sha256/" + manifest_hex, changed).ok());
  absl::Status status = Import("x", "oci:" + dir_ + "/x").status();
  EXPECT_NE(status.message().find("manifest sha256:"), std::string::npos) << status;
  EXPECT_NE(status.message().find("digest mismatch"), std::string::npos) << status;
  EXPECT_FALSE(Exists("images/x"));
}

TEST_F(ImportTest, AnEscapingLayerLeavesNothing) {
  std::string good = Layer("good", "1");
  TarWriter t;
  t.Add("planted", '2', "", dir_ + "/decoy");
  t.Add("planted/x", '0', "x");
  std::string evil = t.Finish();
  WriteLayout(dir_ + "/x", "v1", {good, evil});
  absl::Status status = Import("x", "oci:" + dir_ + "/x").status();
  EXPECT_NE(status.message().find("symbolic link"), std::string::npos) << status;
  EXPECT_EQ(LayerCount(), 0);
  EXPECT_FALSE(Exists("images/x"));
  EXPECT_TRUE(DecoyEmpty());
}

TEST_F(ImportTest, CompressedLayersAndArchives) {
  std::string l1 = Layer("one", "1"), l2 = Layer("two", "2");
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/l1.tar", l1).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/l2.tar", l2).ok());
  ASSERT_TRUE(RunProgram({"gzip", "-nk", dir_ + "/l1.tar"}).ok());
  ASSERT_TRUE(RunProgram({"zstd", "-q", dir_ + "/l2.tar", "-o", dir_ + "/l2.tar.zst"}).ok());
  std::string gz = *ReadFile(dir_ + "/l1.tar.gz"), zst = *ReadFile(dir_ + "/l2.tar.zst");
  // A docker-archive: manifest.json, the config named by its digest, layers as members.
  std::string config = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + Sha256Digest(l1) + "\",\"" + Sha256Digest(l2) + "\"]}}";
  std::string d = dir_ + "/da";
  ASSERT_TRUE(MakeDirectories(d + "/x").ok());
  ASSERT_TRUE(WriteFileAtomically(d + "/" + Hex(config) + ".json", config).ok());
  ASSERT_TRUE(WriteFileAtomically(d + "/x/layer1", gz).ok());
  ASSERT_TRUE(WriteFileAtomically(d + "/x/layer2", zst).ok());
  ASSERT_TRUE(WriteFileAtomically(d + "/manifest.json", "[{\"Config\":\"" + Hex(config) + ".json\",\"RepoTags\":[\"t:1\"],"
                                                           "\"Layers\":[\"x/layer1\",\"x/layer2\"]}]").ok());
  ASSERT_TRUE(RunProgram({"tar", "-C", d, "-cf", dir_ + "/da.tar", "."}).ok());
  absl::StatusOr<ImportReport> r = Import("da", "docker-archive:" + dir_ + "/da.tar:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->unpacked, 2);
  EXPECT_EQ(r->record.layers[0].compression, "gzip");
  EXPECT_EQ(r->record.layers[1].compression, "zstd");
  EXPECT_EQ(*ReadFile(LayerDir(dir_ + "/images", Sha256Digest(l2)) + "/two"), "2");
  EXPECT_EQ(Import("db", "docker-archive:" + dir_ + "/da.tar:2").status().code(), absl::StatusCode::kNotFound);
  // A wrong diff_id in the config: the layer is not what the config says.
  RemoveTree(dir_ + "/images").IgnoreError();
  std::string lying = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + Sha256Digest(l2) + "\",\"" + Sha256Digest(l2) + "\"]}}";
  ASSERT_TRUE(WriteFileAtomically(d + "/" + Hex(lying) + ".json", lying).ok());
  ASSERT_TRUE(WriteFileAtomically(d + "/manifest.json", "[{\"Config\":\"" + Hex(lying) + ".json\",\"Layers\":[\"x/layer1\",\"x/layer2\"]}]").ok());
  ASSERT_TRUE(RunProgram({"tar", "-C", d, "-cf", dir_ + "/lying.tar", "."}).ok());
  absl::Status status = Import("ly", "docker-archive:" + dir_ + "/lying.tar").status();
  EXPECT_NE(status.message().find("diff_id mismatch"), std::string::npos) << status;
  EXPECT_EQ(LayerCount(), 0);
}

TEST(ImageSourceTest, Parses) {
  absl::StatusOr<ImageSource> s = ParseImageSource("oci:/a/b:v1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->path, "/a/b");
  EXPECT_EQ(s->tag, "v1");
  s = ParseImageSource("oci:/a:b/c");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->path, "/a:b/c");
  EXPECT_EQ(s->tag, "");
  EXPECT_EQ(ParseImageSource("docker-archive:x.tar")->kind, ImageSource::Kind::kDockerArchive);
  EXPECT_EQ(ParseImageSource("oci-archive:/x.tar:t")->kind, ImageSource::Kind::kOciArchive);
  EXPECT_FALSE(ParseImageSource("docker://busybox").ok());
  EXPECT_FALSE(ParseImageSource("oci:").ok());
  EXPECT_FALSE(ParseImageSource("oci:/x:").ok());
  EXPECT_TRUE(LooksLikeImageSource("oci:x"));
  EXPECT_FALSE(LooksLikeImageSource("/tmp/root.tar.gz"));
}

}  // namespace
}  // namespace corral::images::oci
