// corralctl cp's core (tools/ctl/copy.h) against a container root: symlinks the container
// planted (absolute, and relative through ..) lead inside it both ways, never to the host's
// files; modes and owners come across mapped through the container's range; a running
// container's root is reached through its leader.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "tests/container_fixture.h"
#include "tools/ctl/clone.h"
#include "tools/ctl/copy.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kBase = 4194304 + 65536 * 24;

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// The planted links name a decoy the test owns (DIR/decoy/shadow on the host, and the same
// path inside the root), never a file of the host's own: were resolution ever to leave the
// root, a regression would write the decoy, which the test then finds changed, instead of the
// host's /etc/shadow.
class CopyTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    dir_ = temp_dir() + "/copy-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    root_ = dir_ + "/root";
    decoy_ = dir_ + "/decoy";
    ASSERT_TRUE(MakeDirectories(root_ + "/etc", 0755).ok());
    ASSERT_TRUE(MakeDirectories(root_ + decoy_, 0755).ok());
    ASSERT_TRUE(MakeDirectories(decoy_, 0755).ok());
    ASSERT_TRUE(MakeDirectories(dir_ + "/host", 0755).ok());
    ASSERT_TRUE(WriteFileAtomically(root_ + decoy_ + "/shadow", "container shadow\n", 0600).ok());
    ASSERT_TRUE(WriteFileAtomically(decoy_ + "/shadow", "host decoy\n", 0600).ok());
    // The attacks, as /etc/passwd -> ../../../etc/shadow would be, aimed at the decoy:
    // relative through .., absolute, and a directory link "up" to the host's side.
    ASSERT_EQ(::symlink(("../../../../../../../.." + decoy_ + "/shadow").c_str(), (root_ + "/etc/passwd").c_str()), 0);
    ASSERT_EQ(::symlink((decoy_ + "/shadow").c_str(), (root_ + "/abs").c_str()), 0);
    ASSERT_EQ(::symlink(("../../../../../../../.." + decoy_).c_str(), (root_ + "/up").c_str()), 0);
    root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  void TearDown() override {
    root_fd_.reset();
    if (!dir_.empty()) {
      EXPECT_EQ(ReadFile(decoy_ + "/shadow").value_or(""), "host decoy\n") << "a copy left the root and wrote the host's file";
      EXPECT_FALSE(Exists(decoy_ + "/tree")) << "a copy left the root and made a host directory";
      RemoveTree(dir_).IgnoreError();
    }
    ContainerTest::TearDown();
  }
  tools::ContainerSide Side(uint32_t base = 0) const { return {root_fd_.get(), base}; }
  std::string InRoot() const { return root_ + decoy_ + "/shadow"; }

  std::string dir_, root_, decoy_;
  UniqueFd root_fd_;
};

TEST_F(CopyTest, OutThroughPlantedSymlinksReadsTheContainersFile) {
  for (const char* path : {"/etc/passwd", "/abs", "/up/shadow"}) {
    std::string out = dir_ + "/host/out";
    ::unlink(out.c_str());
    absl::Status copied = tools::CopyOutOfContainer(Side(), path, out);
    ASSERT_TRUE(copied.ok()) << path << ": " << copied;
    EXPECT_EQ(ReadFile(out).value_or(""), "container shadow\n") << path;  // not the host's decoy
  }
}

TEST_F(CopyTest, InThroughPlantedSymlinksWritesTheContainersFile) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/host/new", "written by cp\n", 0644).ok());
  for (const char* path : {"/etc/passwd", "/abs", "/up/shadow"}) {
    ASSERT_TRUE(WriteFileAtomically(InRoot(), "container shadow\n", 0600).ok());
    absl::Status copied = tools::CopyIntoContainer(dir_ + "/host/new", Side(), path);
    ASSERT_TRUE(copied.ok()) << path << ": " << copied;
    EXPECT_EQ(ReadFile(InRoot()).value_or(""), "written by cp\n") << path;
  }
  // A directory copied onto the link that leads "up" lands inside the root.
  ASSERT_TRUE(MakeDirectories(dir_ + "/host/tree/sub", 0750).ok());
  ASSERT_TRUE(tools::CopyIntoContainer(dir_ + "/host/tree", Side(), "/up").ok());
  EXPECT_TRUE(Exists(root_ + decoy_ + "/tree/sub"));
}

TEST_F(CopyTest, DirectoriesBothWaysKeepModesAndMapOwners) {
  std::string tree = dir_ + "/host/tree";
  ASSERT_TRUE(MakeDirectories(tree + "/d", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(tree + "/d/f", "data\n", 0640).ok());
  ASSERT_EQ(::chmod((tree + "/d/f").c_str(), 0640), 0);
  ASSERT_EQ(::chown((tree + "/d/f").c_str(), 7, 8), 0);
  ASSERT_EQ(::chmod((tree + "/d").c_str(), 0710), 0);
  ASSERT_EQ(::symlink("/etc", (tree + "/link").c_str()), 0);
  ASSERT_EQ(::chown(root_.c_str(), kBase, kBase), 0);  // a container's root is its root's
  absl::Status in = tools::CopyIntoContainer(tree, Side(kBase), "/");
  ASSERT_TRUE(in.ok()) << in;
  struct stat st;
  ASSERT_EQ(::lstat((root_ + "/tree/d/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kBase + 7);
  EXPECT_EQ(st.st_gid, kBase + 8);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::lstat((root_ + "/tree/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0710u);
  ASSERT_EQ(::lstat((root_ + "/tree/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  // And back out: ids inside again, the link a link (not the host's /etc copied).
  ASSERT_EQ(::chmod((root_ + "/tree/d/f").c_str(), 04755), 0);
  ASSERT_TRUE(tools::CopyOutOfContainer(Side(kBase), "/tree", dir_ + "/back").ok());
  ASSERT_EQ(::lstat((dir_ + "/back/d/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);  // setuid dropped on the way out
  ASSERT_EQ(::lstat((dir_ + "/back/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(ReadFile(dir_ + "/back/d/f").value_or(""), "data\n");
}

// commit and export: the whole root as an image keeps it (setuid kept, ids inside, links as
// links, the decoy link's target never read).
TEST_F(CopyTest, RootIntoADirectoryAsAnImage) {
  ASSERT_TRUE(WriteFileAtomically(root_ + "/etc/su", "su\n", 0755).ok());
  ASSERT_EQ(::chown((root_ + "/etc/su").c_str(), kBase, kBase), 0);
  ASSERT_EQ(::chmod((root_ + "/etc/su").c_str(), 04755), 0);
  ASSERT_TRUE(MakeDirectories(dir_ + "/image", 0700).ok());
  absl::Status copied = tools::CopyRootInto(Side(kBase), dir_ + "/image");
  ASSERT_TRUE(copied.ok()) << copied;
  struct stat st;
  ASSERT_EQ(::lstat((dir_ + "/image/etc/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(::lstat((dir_ + "/image/etc/passwd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(::lstat((dir_ + "/image/up").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

// clone's owner move: the source range to the new one, ids outside left, setuid kept, links
// themselves (not their targets) moved.
TEST_F(CopyTest, RemapOwnersMovesOneRangeToAnother) {
  std::string tree = dir_ + "/upper";
  ASSERT_TRUE(MakeDirectories(tree + "/d", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(tree + "/d/su", "x", 0755).ok());
  ASSERT_EQ(::chown((tree + "/d/su").c_str(), kBase + 3, kBase + 4), 0);
  ASSERT_EQ(::chmod((tree + "/d/su").c_str(), 04755), 0);
  ASSERT_TRUE(WriteFileAtomically(tree + "/other", "y", 0644).ok());
  ASSERT_EQ(::chown((tree + "/other").c_str(), 1000, 1000), 0);
  ASSERT_EQ(::symlink((decoy_ + "/shadow").c_str(), (tree + "/link").c_str()), 0);
  ASSERT_EQ(::lchown((tree + "/link").c_str(), kBase, kBase), 0);
  ASSERT_EQ(::chown(tree.c_str(), kBase, kBase), 0);
  const uint32_t next = kBase + 65536;
  ASSERT_TRUE(tools::RemapOwners(tree, kBase, next).ok());
  struct stat st;
  ASSERT_EQ(::lstat((tree + "/d/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, next + 3);
  EXPECT_EQ(st.st_gid, next + 4);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(::lstat((tree + "/other").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  ASSERT_EQ(::lstat((tree + "/link").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, next);
  ASSERT_EQ(::stat((decoy_ + "/shadow").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);  // the link's target, the host's decoy, untouched
  ASSERT_EQ(::lstat(tree.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, next);
}

TEST_F(CopyTest, MissingSourceIsOneErrorAndCreatesNothing) {
  absl::Status in = tools::CopyIntoContainer(dir_ + "/host/nope", Side(), "/x");
  EXPECT_FALSE(in.ok());
  EXPECT_THAT(in.message(), HasSubstr("nope"));
  EXPECT_FALSE(Exists(root_ + "/x"));
  absl::Status out = tools::CopyOutOfContainer(Side(), "/nope", dir_ + "/host/x");
  EXPECT_FALSE(out.ok());
  EXPECT_THAT(out.message(), HasSubstr("nope"));
  EXPECT_FALSE(Exists(dir_ + "/host/x"));
}

// A running, unprivileged container: its root through /proc/LEADER/root, its symlinks planted
// at run time, its ids mapped.
TEST_F(CopyTest, RunningContainerThroughItsLeader) {
  runtime::ContainerSpec spec = BusyboxSpec(
      {"/bin/sh", "-c", "ln -s ../../../../etc/hostname /tmp/passwd; ln -s /etc/hostname /tmp/abs; mkdir /tmp/in; exec sleep 100"});
  spec.namespaces |= CLONE_NEWUSER;
  spec.uid_map = spec.gid_map = {{0, kBase, 65536}};
  spec.idmap_rootfs = true;
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  runtime::StartOptions options;
  options.stdio[0] = options.stdio[1] = options.stdio[2] = null.get();
  absl::StatusOr<runtime::Container> c = runtime::Container::Start(spec, options);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<UniqueFd> root;
  for (int i = 0; i < 100; ++i) {  // until the links are there
    root = tools::OpenRunningRoot(c->pid());
    ASSERT_TRUE(root.ok()) << root.status();
    if (::faccessat(root->get(), "tmp/in", F_OK, AT_SYMLINK_NOFOLLOW) == 0) break;
    ::usleep(20000);
  }
  tools::ContainerSide side{root->get(), kBase};
  std::string image_shadow = ReadFile(rootfs() + "/etc/hostname").value_or("?");
  for (const char* link : {"/tmp/passwd", "/tmp/abs"}) {
    std::string out = dir_ + "/host/from-running";
    ::unlink(out.c_str());
    ASSERT_TRUE(tools::CopyOutOfContainer(side, link, out).ok()) << link;
    EXPECT_EQ(ReadFile(out).value_or(""), image_shadow) << link;  // the container's, not the host's
  }
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/host/f", "in\n", 0644).ok());
  absl::Status in = tools::CopyIntoContainer(dir_ + "/host/f", side, "/tmp/in");
  ASSERT_TRUE(in.ok()) << in;
  struct stat st;
  ASSERT_EQ(::fstatat(root->get(), "tmp/in/f", &st, 0), 0);
  EXPECT_EQ(st.st_uid, kBase);  // host root's file: root inside
  root->reset();
  ASSERT_TRUE(c->Signal(SIGKILL).ok());
  c->Wait().IgnoreError();
}

}  // namespace
}  // namespace corral::testing
