// A user's data in a container: --bind (owner and mode seen inside, privileged and in a user
// namespace with and without idmap, read-only down to submounts, a planted symlink at the
// target), --tmpfs, and bad input that must fail with one clear error and create nothing.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "runtime/binds.h"
#include "runtime/volume_store.h"
#include "tests/container_fixture.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint32_t kBase = 4194304 + 65536 * 20;  // inside the fixture's pool range, unused by it

bool FileExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

class StorageTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    dir_ = temp_dir() + "/storage-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(MakeDirectories(dir_ + "/data", 0755).ok());
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
    ContainerTest::TearDown();
  }

  static void Unprivileged(runtime::ContainerSpec* spec) {
    spec->namespaces |= CLONE_NEWUSER;
    spec->uid_map = spec->gid_map = {{0, kBase, 65536}};
    spec->idmap_rootfs = true;
  }

  runtime::BindSpec Bind(const std::string& source, const std::string& target, bool ro = false, bool idmap = false) {
    runtime::BindSpec b;
    b.source = source;
    b.target = target;
    b.read_only = ro;
    b.idmap = idmap;
    return b;
  }

  std::string RunOk(const runtime::ContainerSpec& spec) {
    absl::StatusOr<RunResult> result = ContainerTest::Run(spec);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return "";
    EXPECT_EQ(result->exit_status, 0) << result->output;
    return result->output;
  }

  std::string dir_;
};

TEST_F(StorageTest, PrivilegedBindKeepsHostOwnerAndModeBothWays) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/data/f", "from host\n", 0640).ok());
  ASSERT_EQ(::chown((dir_ + "/data/f").c_str(), 1234, 2345), 0);
  ASSERT_EQ(::chmod((dir_ + "/data/f").c_str(), 0640), 0);
  runtime::ContainerSpec spec = BusyboxSpec(
      {"/bin/sh", "-c", "stat -c 'OWNER %u:%g %a' /mnt/in/f && cat /mnt/in/f && echo inside > /mnt/in/g"});
  spec.binds.push_back(Bind(dir_ + "/data", "/mnt/in"));
  std::string out = RunOk(spec);
  EXPECT_THAT(out, HasSubstr("OWNER 1234:2345 640"));
  EXPECT_THAT(out, HasSubstr("from host"));
  EXPECT_EQ(ReadFile(dir_ + "/data/g").value_or(""), "inside\n");
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/data/g").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);  // root inside is host root
}

TEST_F(StorageTest, UnprivilegedBindWithoutIdmapShowsHostIdsAsNobody) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/data/f", "x\n", 0644).ok());
  ASSERT_EQ(::chmod((dir_ + "/data/f").c_str(), 0644), 0);
  // A file owned by an id of the container's range is its own.
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/data/mine", "y\n", 0600).ok());
  ASSERT_EQ(::chown((dir_ + "/data/mine").c_str(), kBase + 7, kBase + 7), 0);
  runtime::ContainerSpec spec = BusyboxSpec(
      {"/bin/sh", "-c",
       "stat -c 'F %u:%g %a' /d/f; stat -c 'MINE %u:%g %a' /d/mine; "
       "(echo no > /d/f) 2>/dev/null && echo WROTE || echo REFUSED"});
  Unprivileged(&spec);
  spec.binds.push_back(Bind(dir_ + "/data", "/d"));
  std::string out = RunOk(spec);
  EXPECT_THAT(out, HasSubstr("F 65534:65534 644"));
  EXPECT_THAT(out, HasSubstr("MINE 7:7 600"));
  EXPECT_THAT(out, HasSubstr("REFUSED"));
  EXPECT_EQ(ReadFile(dir_ + "/data/f").value_or(""), "x\n");
}

TEST_F(StorageTest, UnprivilegedIdmappedBindShowsHostRootAsRootAndWritesBack) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/data/f", "x\n", 0640).ok());
  ASSERT_EQ(::chmod((dir_ + "/data/f").c_str(), 0640), 0);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/data/u", "u\n", 0644).ok());
  ASSERT_EQ(::chown((dir_ + "/data/u").c_str(), 1000, 1000), 0);
  runtime::ContainerSpec spec = BusyboxSpec(
      {"/bin/sh", "-c", "stat -c 'F %u:%g %a' /d/f; stat -c 'U %u:%g' /d/u; echo new > /d/new && echo WROTE"});
  Unprivileged(&spec);
  spec.binds.push_back(Bind(dir_ + "/data", "/d", false, /*idmap=*/true));
  std::string out = RunOk(spec);
  EXPECT_THAT(out, HasSubstr("F 0:0 640"));
  EXPECT_THAT(out, HasSubstr("U 1000:1000"));
  EXPECT_THAT(out, HasSubstr("WROTE"));
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/data/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);  // root inside wrote through the idmapped mount as on-disk uid 0
  EXPECT_EQ(st.st_gid, 0u);
}

TEST_F(StorageTest, IdmapWithoutUserNamespaceIsRefused) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/true"});
  spec.binds.push_back(Bind(dir_ + "/data", "/d", false, /*idmap=*/true));
  absl::StatusOr<RunResult> result = ContainerTest::Run(spec);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("idmap needs the container's user namespace"));
}

// In a forked test child: runs `spec` with `source` bound read-only at /ro and returns what
// it printed (also on stderr, for the test's log); exits the child when it cannot start.
std::string RunWithReadOnlyBind(runtime::ContainerSpec spec, const std::string& source) {
  runtime::BindSpec b;
  b.source = source;
  b.target = "/ro";
  b.read_only = true;
  spec.binds.push_back(b);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) ::_exit(13);
  runtime::StartOptions options;
  options.stdio[1] = fds[1];
  options.stdio[2] = fds[1];
  absl::StatusOr<runtime::Container> c = runtime::Container::Start(spec, options);
  ::close(fds[1]);
  if (!c.ok()) {
    fprintf(stderr, "start: %s\n", std::string(c.status().message()).c_str());
    ::_exit(14);
  }
  std::string out = ReadAll(fds[0]);
  c->Wait().IgnoreError();
  fprintf(stderr, "%s", out.c_str());
  return out;
}

// A read-only bind of a directory with a mount below it: the submount is read-only too (the
// flag on every mount of the tree), seen from inside in mountinfo and by a write that fails.
// The submount is made in a mount namespace of a forked child, so the host never sees it.
void ReadOnlySubmountCheck(const std::string& dir, const std::string& rootfs, bool unprivileged) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(10);
    std::string sub = dir + "/data/sub";
    if (::mkdir(sub.c_str(), 0755) != 0) ::_exit(11);
    if (::mount("tmpfs", sub.c_str(), "tmpfs", 0, "mode=1777") != 0) ::_exit(12);
    runtime::ContainerSpec spec;
    spec.name = "it";
    spec.rootfs = rootfs;
    spec.command = {"/bin/sh", "-c",
                    "grep -E ' /ro(/sub)? ' /proc/self/mountinfo | cut -d' ' -f5,6; "
                    "(echo x > /ro/sub/file) 2>/dev/null && echo SUBWRITE; "
                    "(echo x > /ro/file) 2>/dev/null && echo TOPWRITE; echo END"};
    if (unprivileged) {
      spec.namespaces |= CLONE_NEWUSER;
      spec.uid_map = spec.gid_map = {{0, kBase, 65536}};
      spec.idmap_rootfs = true;
    }
    std::string out = RunWithReadOnlyBind(spec, dir + "/data");
    bool top_ro = absl::StrContains(out, "/ro ro,");
    bool sub_ro = absl::StrContains(out, "/ro/sub ro,");
    bool no_writes = !absl::StrContains(out, "WRITE") && absl::StrContains(out, "END");
    ::_exit(top_ro && sub_ro && no_writes ? 0 : 20);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the read-only bind's submount was writable or the run failed (see stderr)";
}

TEST_F(StorageTest, ReadOnlyHoldsForASubmountPrivileged) { ReadOnlySubmountCheck(dir_, rootfs(), false); }
TEST_F(StorageTest, ReadOnlyHoldsForASubmountUnprivileged) { ReadOnlySubmountCheck(dir_, rootfs(), true); }

// A booted container (CAP_SYS_ADMIN in its user namespace, the boot seccomp profile) tries to
// make its :ro bind and the bind's submount writable again (mount -o remount,bind,rw;
// mount_setattr clearing MOUNT_ATTR_RDONLY), to write through them, and to unmount the submount
// to see what it covers. The binds are staged in a mount namespace of the host's user namespace
// (runtime/bind_stage.h), so the kernel locks them: every attempt fails. The bind's source
// belongs to the container's root, so a writable mount would really take the write. The
// submount is made in a forked child's mount namespace, so the host never sees it.
void LockedReadOnlyCheck(const std::string& dir, const std::string& rootfs, bool idmap_rootfs) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(10);
    std::string sub = dir + "/data/sub";
    if (::mkdir(sub.c_str(), 0755) != 0) ::_exit(11);
    if (!WriteFileAtomically(sub + "/covered", "hidden\n", 0644).ok()) ::_exit(11);
    if (::mount("tmpfs", sub.c_str(), "tmpfs", 0, "mode=1777") != 0) ::_exit(12);
    if (::chown((dir + "/data").c_str(), kBase, kBase) != 0) ::_exit(12);
    runtime::ContainerSpec spec;
    spec.name = "it";
    spec.rootfs = rootfs;
    spec.command = {"/bin/sh", "-c",
                    "/bin/syscall_probe remount /ro /ro/sub; /bin/syscall_probe umount /ro/sub; "
                    "cat /ro/sub/covered 2>/dev/null; grep -E ' /ro(/sub)? ' /proc/self/mountinfo | cut -d' ' -f5,6; "
                    "echo END"};
    spec.namespaces |= CLONE_NEWUSER;
    spec.uid_map = spec.gid_map = {{0, kBase, 65536}};
    spec.idmap_rootfs = idmap_rootfs;
    spec.capabilities = runtime::BootCapabilities();
    std::string out = RunWithReadOnlyBind(spec, dir + "/data");
    bool refused = absl::StrContains(out, "remount-rw /ro EPERM") && absl::StrContains(out, "setattr-rw /ro EPERM") &&
                   absl::StrContains(out, "create /ro EROFS") && absl::StrContains(out, "remount-rw /ro/sub EPERM") &&
                   absl::StrContains(out, "setattr-rw /ro/sub EPERM") && absl::StrContains(out, "create /ro/sub EROFS") &&
                   absl::StrContains(out, "umount /ro/sub EINVAL") && !absl::StrContains(out, "hidden");
    bool still_ro = absl::StrContains(out, "/ro ro,") && absl::StrContains(out, "/ro/sub ro,") &&
                    absl::StrContains(out, "END");
    bool untouched = ::access((dir + "/data/probe-written").c_str(), F_OK) != 0;
    ::_exit(refused && still_ro && untouched ? 0 : 20);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "a booted container made its :ro bind writable, or the run failed (see stderr)";
}

TEST_F(StorageTest, ReadOnlyBindIsLockedAgainstABootedContainerIdmappedRootfs) {
  LockedReadOnlyCheck(dir_, rootfs(), /*idmap_rootfs=*/true);
}
TEST_F(StorageTest, ReadOnlyBindIsLockedAgainstABootedContainerPlainRootfs) {
  LockedReadOnlyCheck(dir_, rootfs(), /*idmap_rootfs=*/false);
}

// The read-only parts of /proc and /sys are mounted from inside the container (a procfs
// belongs to the container's pid namespace, a sysfs to its network namespace), so no staging
// can lock them: a booted container may remount /proc/sys writable, as it could mount a fresh
// procfs. What holds is that the host's kernel knobs belong to host root, which is no one in
// the container's user namespace: they still do not open for writing (open and close, never a
// write).
TEST_F(StorageTest, BootedContainerUndoingProcReadOnlyStillCannotOpenHostKnobs) {
  runtime::ContainerSpec spec = BusyboxSpec(
      {"/bin/sh", "-c",
       "mount -o remount,bind,rw /proc/sys 2>/dev/null && echo REMOUNTED; "
       "mount -o remount,bind,rw /proc/sysrq-trigger 2>/dev/null && echo REMOUNTED-SYSRQ; "
       "mount -o remount,rw /sys 2>/dev/null && echo REMOUNTED-SYS; "
       "/bin/open_probe w /proc/sysrq-trigger /proc/sys/kernel/core_pattern /proc/sys/vm/drop_caches "
       "/sys/kernel/uevent_helper"});
  Unprivileged(&spec);
  spec.capabilities = runtime::BootCapabilities();
  std::string out = RunOk(spec);
  EXPECT_THAT(out, Not(HasSubstr("/proc/sysrq-trigger ok")));  // ENOENT on a kernel without it
  EXPECT_THAT(out, HasSubstr("/proc/sys/kernel/core_pattern EACCES"));
  EXPECT_THAT(out, HasSubstr("/proc/sys/vm/drop_caches EACCES"));
  EXPECT_THAT(out, Not(HasSubstr("uevent_helper ok")));
}

// The image plants a symlink where the bind goes, pointing at a host directory that exists in
// the image too (/root), absolutely and through ../..: the bind must land on the image's
// directory, where the link leads when resolved inside the rootfs, never on the host's (which
// would vanish from the container's view with the old root: the marker would be missing). A
// link to a host directory the image lacks is a clear error, and the host's directory gets
// nothing.
TEST_F(StorageTest, PlantedSymlinkAtTargetStaysInsideTheRootfs) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/data/marker", "bound\n", 0644).ok());
  std::string abs_link = rootfs() + "/plant-abs", rel_link = rootfs() + "/plant-rel";
  ASSERT_EQ(::symlink("/root", abs_link.c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../../root", rel_link.c_str()), 0);
  for (const std::string& link : {std::string("/plant-abs"), std::string("/plant-rel")}) {
    for (bool unprivileged : {false, true}) {
      runtime::ContainerSpec spec = BusyboxSpec(
          {"/bin/sh", "-c", absl::StrCat("cat ", link, "/marker /root/marker; grep -c ' /root ' /proc/self/mountinfo")});
      if (unprivileged) Unprivileged(&spec);
      spec.binds.push_back(Bind(dir_ + "/data", link));
      absl::StatusOr<RunResult> result = ContainerTest::Run(spec);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_THAT(result->output, HasSubstr("bound\nbound\n1\n")) << link << " unprivileged=" << unprivileged;
    }
  }
  EXPECT_FALSE(FileExists("/root/marker"));
  // A link to a directory only the host has.
  std::string decoy = dir_ + "/decoy";
  ASSERT_TRUE(MakeDirectories(decoy, 0755).ok());
  ASSERT_EQ(::unlink(abs_link.c_str()), 0);
  ASSERT_EQ(::symlink(decoy.c_str(), abs_link.c_str()), 0);
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/true"});
  spec.binds.push_back(Bind(dir_ + "/data", "/plant-abs"));
  absl::StatusOr<RunResult> dangling = ContainerTest::Run(spec);
  EXPECT_FALSE(dangling.ok());
  EXPECT_THAT(dangling.status().message(), HasSubstr("mount point"));
  ::unlink(abs_link.c_str());
  ::unlink(rel_link.c_str());
  EXPECT_FALSE(FileExists(decoy + "/marker"));
  for (const std::string& m : CurrentMounts()) EXPECT_THAT(m, Not(HasSubstr(decoy)));
}

TEST_F(StorageTest, FileBindAndMissingTargetDirectoriesAreMade) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/one-file", "just me\n", 0644).ok());
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "cat /deep/er/still/f.txt; ls -ld /deep/er | cut -c1-10"});
  Unprivileged(&spec);
  spec.binds.push_back(Bind(dir_ + "/one-file", "/deep/er/still/f.txt", /*ro=*/true));
  std::string out = RunOk(spec);
  EXPECT_THAT(out, HasSubstr("just me"));
  EXPECT_THAT(out, HasSubstr("drwxr-xr-x"));
  RemoveTree(rootfs() + "/deep").IgnoreError();
}

TEST_F(StorageTest, BadBindsFailClearlyAndCreateNothing) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/true"});
  spec.binds.push_back(Bind(dir_ + "/no-such-dir", "/never-made"));
  absl::StatusOr<RunResult> missing = ContainerTest::Run(spec);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("no-such-dir"));
  EXPECT_THAT(missing.status().message(), HasSubstr("ENOENT"));
  EXPECT_FALSE(FileExists(rootfs() + "/never-made"));

  spec.binds = {Bind("/run/corral/some-container", "/never-made")};  // refused by its path, existing or not
  absl::StatusOr<RunResult> state = ContainerTest::Run(spec);
  ASSERT_FALSE(state.ok());
  EXPECT_THAT(state.status().message(), HasSubstr("inside corral's own state"));
  EXPECT_FALSE(FileExists(rootfs() + "/never-made"));

  for (const char* text : {"/tmp:/a/../../etc", "relative:/x", "/tmp:/", "/tmp:/proc/sys", "/tmp:/x:rx", "/tmp"}) {
    absl::StatusOr<runtime::BindSpec> parsed = runtime::ParseBindSpec(text);
    EXPECT_FALSE(parsed.ok()) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(text)) << text;
  }
  for (const char* text : {"/t:size=lots", "/t:mode=999", "/t:uid=0", "x"}) {
    EXPECT_FALSE(runtime::ParseTmpfsSpec(text).ok()) << text;
  }
}

TEST_F(StorageTest, TmpfsIsOwnedByRootInsideNosuidNodevAndSized) {
  for (bool unprivileged : {false, true}) {
    runtime::ContainerSpec spec = BusyboxSpec(
        {"/bin/sh", "-c",
         "stat -c 'T %u:%g %a' /scratch; grep ' /scratch ' /proc/self/mountinfo; "
         "dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>&1; echo END"});
    if (unprivileged) Unprivileged(&spec);
    absl::StatusOr<runtime::TmpfsSpec> tmpfs = runtime::ParseTmpfsSpec("/scratch:size=1M,mode=0700");
    ASSERT_TRUE(tmpfs.ok()) << tmpfs.status();
    spec.tmpfs.push_back(*tmpfs);
    absl::StatusOr<RunResult> result = ContainerTest::Run(spec);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_THAT(result->output, HasSubstr("T 0:0 700"));
    EXPECT_THAT(result->output, HasSubstr("nosuid,nodev"));
    EXPECT_THAT(result->output, HasSubstr("size=1024k"));
    EXPECT_THAT(result->output, HasSubstr("No space left on device"));
  }
  EXPECT_FALSE(FileExists(rootfs() + "/scratch/big"));
  ::rmdir((rootfs() + "/scratch").c_str());
}

TEST_F(StorageTest, CorralRunTakesBindAndTmpfs) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/data/f", "via cli\n", 0644).ok());
  CliResult bad = RunCli({"--rootfs", rootfs(), "--net", "none", "--bind", dir_ + "/nope:/cli-bad", "--", "/bin/true"});
  EXPECT_NE(bad.exit_status, 0);
  EXPECT_THAT(bad.output, HasSubstr("nope"));
  CliResult priv = RunCli(
      {"--rootfs", rootfs(), "--privileged", "--bind", dir_ + "/data:/cli-bad:idmap", "--", "/bin/true"});
  EXPECT_NE(priv.exit_status, 0);
  EXPECT_THAT(priv.output, HasSubstr("idmap needs a user namespace"));
  CliResult escape = RunCli({"--rootfs", rootfs(), "--bind", dir_ + "/data:/a/../../cli-bad", "--", "/bin/true"});
  EXPECT_NE(escape.exit_status, 0);
  EXPECT_THAT(escape.output, HasSubstr("contains '..'"));
  EXPECT_FALSE(FileExists(rootfs() + "/cli-bad"));
  CliResult r = RunCli({"--rootfs", rootfs(), "--net", "none", "--bind", dir_ + "/data:/cli:ro,idmap", "--tmpfs",
                        "/t:size=64k", "--", "/bin/sh", "-c",
                        "cat /cli/f; stat -c '%u' /cli/f; (echo > /cli/f) 2>/dev/null || echo RO; stat -c '%u %a' /t"});
  EXPECT_EQ(r.exit_status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("via cli\n0\nRO\n0 1777"));
  ::rmdir((rootfs() + "/cli").c_str());
  ::rmdir((rootfs() + "/t").c_str());
}


// Named volumes (runtime/volume_store.h) in a store of the test's own: data outlives its
// container and keeps the ids containers see, so a container of another uid range sees the same
// owners; a sized one is an ext4 image whose loop device goes with its last container.
class VolumeTest : public StorageTest {
 protected:
  void SetUp() override {
    StorageTest::SetUp();
    if (IsSkipped()) return;
    store_ = std::make_unique<runtime::VolumeStore>(dir_ + "/volumes");
  }
  void TearDown() override {
    store_.reset();
    StorageTest::TearDown();
  }
  absl::StatusOr<RunResult> RunWith(const std::string& script, const std::string& volume, uint32_t base,
                                    bool read_only = false) {
    runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", script});
    if (base != 0) {
      spec.namespaces |= CLONE_NEWUSER;
      spec.uid_map = spec.gid_map = {{0, base, 65536}};
      spec.idmap_rootfs = true;
    }
    std::vector<UniqueFd> trees;
    RETURN_IF_ERROR(runtime::AddVolumeBinds(*store_, {{volume, "/vol", read_only}}, &spec, &trees));
    return ContainerTest::Run(spec);
  }
  std::unique_ptr<runtime::VolumeStore> store_;
};

TEST_F(VolumeTest, DataOutlivesItsContainerWithTheIdsContainersSee) {
  ASSERT_TRUE(store_->Create("shared", 0).ok());
  absl::StatusOr<RunResult> first =
      RunWith("echo hello > /vol/f && chown 5:6 /vol/f && mkdir /vol/d && stat -c '%u:%g' /vol", "shared", kBase);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->output, "0:0\n");  // the volume's top is root's inside
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/volumes/shared/data/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 5u);  // on disk: the id inside, not the first container's host range
  // A container of another range, and a privileged one, see the same owners.
  for (uint32_t base : {kBase + 65536u, 0u}) {
    absl::StatusOr<RunResult> second = RunWith("cat /vol/f; stat -c '%u:%g' /vol/f /vol/d", "shared", base);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(second->output, "hello\n5:6\n0:0\n") << "base " << base;
  }
  absl::StatusOr<RunResult> ro = RunWith("(echo x > /vol/g) 2>&1; grep -c ' /vol ro,' /proc/self/mountinfo", "shared", kBase, true);
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_THAT(ro->output, HasSubstr("Read-only file system"));
  EXPECT_THAT(ro->output, HasSubstr("1\n"));
  absl::StatusOr<std::vector<runtime::VolumeInfo>> list = store_->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "shared");
  EXPECT_GT((*list)[0].used_bytes, 0u);
  ASSERT_TRUE(store_->Remove("shared").ok());
  EXPECT_FALSE(FileExists(dir_ + "/volumes/shared"));
}

TEST_F(VolumeTest, SizedVolumeIsFullPastItsSizeAndLeavesNoLoopDevice) {
  absl::StatusOr<runtime::VolumeInfo> created = store_->Create("small", 8 << 20);
  ASSERT_TRUE(created.ok()) << created.status();
  std::string image = dir_ + "/volumes/small/disk.ext4";
  for (uint32_t base : {kBase, 0u}) {
    absl::StatusOr<RunResult> run = RunWith(
        "stat -c '%u:%g' /vol; dd if=/dev/zero of=/vol/big bs=1M count=16 2>&1; rm /vol/big; "
        "echo keep > /vol/kept; grep ' /vol ' /proc/self/mountinfo",
        "small", base);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_THAT(run->output, HasSubstr("0:0\n"));
    EXPECT_THAT(run->output, HasSubstr("No space left on device"));
    EXPECT_THAT(run->output, HasSubstr("ext4"));
    EXPECT_THAT(run->output, HasSubstr("nosuid,nodev"));
    // The container is gone: so are its mount of the volume and the loop device.
    EXPECT_EQ(runtime::FindLoopDeviceOf(image), "") << "a loop device is left for " << image;
  }
  absl::StatusOr<RunResult> again = RunWith("cat /vol/kept", "small", kBase + 65536);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->output, "keep\n");
  EXPECT_EQ(runtime::FindLoopDeviceOf(image), "");
  ASSERT_TRUE(store_->Remove("small").ok());
}

TEST_F(VolumeTest, CorralRunTakesVolumes) {
  ASSERT_TRUE(store_->Create("cli", 0).ok());
  ::setenv("CORRAL_VOLUMES_DIR", (dir_ + "/volumes").c_str(), 1);
  CliResult r = RunCli({"--rootfs", rootfs(), "--net", "none", "--volume", "cli:/v", "--", "/bin/sh", "-c",
                        "echo via-run > /v/f && stat -c %u:%g /v/f"});
  CliResult missing = RunCli({"--rootfs", rootfs(), "--net", "none", "--volume", "nope:/v", "--", "/bin/true"});
  CliResult bad = RunCli({"--rootfs", rootfs(), "--volume", "../x:/v", "--", "/bin/true"});
  ::unsetenv("CORRAL_VOLUMES_DIR");
  EXPECT_EQ(r.exit_status, 0) << r.output;
  EXPECT_EQ(r.output, "0:0\n");
  EXPECT_EQ(ReadFile(dir_ + "/volumes/cli/data/f").value_or(""), "via-run\n");
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/volumes/cli/data/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);  // the id inside, whatever range the run had
  EXPECT_NE(missing.exit_status, 0);
  EXPECT_THAT(missing.output, HasSubstr("no volume nope"));
  EXPECT_NE(bad.exit_status, 0);
  EXPECT_THAT(bad.output, HasSubstr("is not a name"));
  ::rmdir((rootfs() + "/v").c_str());
  ASSERT_TRUE(store_->Remove("cli").ok());
}

TEST_F(VolumeTest, BadNamesAndSizesCreateNothing) {
  // std::string, not const char*: a pointer into a temporary string dies with the list (ASan).
  for (const std::string& name : std::vector<std::string>{"", "../x", "a/b", ".hidden", std::string(65, 'a')}) {
    absl::StatusOr<runtime::VolumeInfo> created = store_->Create(name, 0);
    EXPECT_FALSE(created.ok()) << name;
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_THAT(store_->Create("tiny", 4096).status().message(), HasSubstr("below the 8M minimum"));
  // More than the file system holds (bus_fuzz once sent 2^60: mkfs ran until the watchdog).
  for (uint64_t size : {uint64_t{1} << 60, UINT64_MAX}) {
    absl::StatusOr<runtime::VolumeInfo> huge = store_->Create("huge", size);
    EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument) << size;
    EXPECT_THAT(huge.status().message(), HasSubstr("bytes free on")) << size;
  }
  struct stat st;
  EXPECT_NE(::lstat((dir_ + "/volumes").c_str(), &st), 0) << "a refused size made the store";
  ASSERT_TRUE(store_->Create("once", 0).ok());
  EXPECT_EQ(store_->Create("once", 0).status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::vector<runtime::VolumeInfo>> list = store_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
  EXPECT_EQ(store_->OpenTree("missing").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->Remove("once").ok());
  // Nothing but the (empty) store directory.
  EXPECT_EQ(::rmdir((dir_ + "/volumes").c_str()), 0);
}

}  // namespace
}  // namespace corral::testing
