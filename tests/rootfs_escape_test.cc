// Escape attempts against the container's root file system and devices, from inside containers
// of the runtime and of corral-run: an image whose /proc, /sys, /dev, /run or /tmp is a link or
// a file, writable submounts under a read-only bind, device nodes shipped in the image or made
// with mknod, and --device. Probes open (for writing at most) and close, or read mountinfo;
// nothing here writes a kernel file. They skip when not root.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "runtime/devices.h"
#include "tests/container_fixture.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Mount point -> per-mount options ("ro,nosuid,...") from /proc/self/mountinfo text.
std::map<std::string, std::string> MountOptions(const std::string& mountinfo) {
  std::map<std::string, std::string> options;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 6 && absl::StartsWith(fields[4], "/")) options[std::string(fields[4])] = std::string(fields[5]);
  }
  return options;
}

class RootfsEscapeTest : public ContainerTest {
 protected:
  // Replaces the rootfs's directory `name` with `replacement` (a symlink target, or "" for a
  // plain file) for the length of the test.
  void Replace(const std::string& name, const std::string& link_target) {
    std::string path = rootfs() + "/" + name;
    std::string aside = path + ".aside";
    ASSERT_EQ(::rename(path.c_str(), aside.c_str()), 0) << path;
    replaced_.push_back(name);
    if (link_target.empty()) {
      ASSERT_TRUE(WriteFileAtomically(path, "not a directory\n", 0644).ok());
    } else {
      ASSERT_EQ(::symlink(link_target.c_str(), path.c_str()), 0);
    }
  }
  // Puts every replaced directory back.
  void TearDownReplacements() {
    for (const std::string& name : replaced_) {
      std::string path = rootfs() + "/" + name;
      EXPECT_EQ(::unlink(path.c_str()), 0) << path;
      EXPECT_EQ(::rename((path + ".aside").c_str(), path.c_str()), 0) << path;
    }
    replaced_.clear();
  }
  void TearDown() override {
    TearDownReplacements();
    for (const std::string& path : made_) ::unlink(path.c_str());
    ContainerTest::TearDown();
  }
  // Runs `spec` in a child process with a private mount namespace in which `prepare` ran
  // first (mounts for the test's bind sources), so nothing of it reaches the test's own
  // namespace. Returns the container's output, or a line starting with "ERROR".
  std::string RunInPrivateMountNamespace(const runtime::ContainerSpec& spec, const std::function<bool()>& prepare) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      std::string out;
      if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        out = "ERROR private mount namespace";
      } else if (!prepare()) {
        out = "ERROR prepare";
      } else {
        absl::StatusOr<RunResult> r = Run(spec);
        out = r.ok() ? r->output : absl::StrCat("ERROR ", r.status().ToString());
      }
      (void)!::write(fds[1], out.data(), out.size());
      ::_exit(0);
    }
    ::close(fds[1]);
    std::string out = ReadAll(fds[0]);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return out;
  }
  std::vector<std::string> replaced_;
  std::vector<std::string> made_;
};

// The attack of the issue: /proc -> run/p puts procfs under /run, the /run tmpfs covers it,
// and every mask used to miss. Each API directory that is not a real directory is refused,
// with its name in the error, before anything runs.
TEST_F(RootfsEscapeTest, ApiDirectoryThatIsASymlinkOrFileIsRefusedByName) {
  struct Case {
    const char* name;
    const char* link;  // "" makes it a regular file
  } cases[] = {{"proc", "run/p"}, {"sys", "run/s"}, {"dev", "tmp/d"}, {"run", "/tmp"}, {"tmp", ""}, {"proc", ""}};
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.name, " -> ", c.link));
    Replace(c.name, c.link);
    absl::StatusOr<RunResult> r = Run(BusyboxSpec({"/bin/sh", "-c", "echo STARTED"}));
    ASSERT_FALSE(r.ok()) << "started: " << r->output;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("not a real directory"));
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(absl::StrCat("`", c.name, "`")));
    // Undo now, so the next case meets only its own replacement.
    TearDownReplacements();
  }
}

// The same image through corral-run: refused with the path named, exit status 125.
TEST_F(RootfsEscapeTest, CorralRunRefusesASymlinkedProc) {
  for (const char* name : {"proc", "sys", "dev"}) {
    SCOPED_TRACE(name);
    Replace(name, absl::StrCat("run/", name));
    CliResult r = RunCli({"--rootfs", rootfs(), "--net", "none", "--", "/bin/echo", "STARTED"});
    EXPECT_EQ(r.exit_status, 125) << r.output;
    EXPECT_THAT(r.output, HasSubstr(absl::StrCat("not a real directory (a symlink or file) at `", name, "`")));
    EXPECT_THAT(r.output, Not(HasSubstr("STARTED")));
    TearDownReplacements();
  }
}

// A read-only bind whose source has a mount under it: the submount is read-only inside too
// (the old MS_REMOUNT|MS_RDONLY after an MS_REC bind left it writable).
TEST_F(RootfsEscapeTest, ReadOnlyBindMakesEverySubmountReadOnly) {
  std::string source = temp_dir() + "/ro-source";
  ASSERT_EQ(::mkdir(source.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((source + "/sub").c_str(), 0755), 0);
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "cat /proc/self/mountinfo; /bin/open_probe w /mnt/sub/file"});
  spec.mounts.push_back(runtime::MountSpec::Bind(source, "/mnt", runtime::ReadOnly::kYes));
  std::string out = RunInPrivateMountNamespace(spec, [&] {
    if (::mount("tmpfs", (source + "/sub").c_str(), "tmpfs", 0, "size=1m") != 0) return false;
    return WriteFileAtomically(source + "/sub/file", "x", 0666).ok();
  });
  ::rmdir((source + "/sub").c_str());
  ::rmdir(source.c_str());
  ASSERT_FALSE(absl::StartsWith(out, "ERROR")) << out;
  std::map<std::string, std::string> options = MountOptions(out);
  ASSERT_TRUE(options.count("/mnt")) << out;
  ASSERT_TRUE(options.count("/mnt/sub")) << "the submount did not come along:\n" << out;
  EXPECT_TRUE(absl::StartsWith(options["/mnt"], "ro,")) << options["/mnt"];
  EXPECT_TRUE(absl::StartsWith(options["/mnt/sub"], "ro,")) << "writable submount: " << options["/mnt/sub"];
  EXPECT_THAT(out, HasSubstr("/mnt/sub/file EROFS\n"));
}

// --userns with the host's network: a fresh sysfs is refused, so the host's /sys is bound,
// with its cgroup mounts under it; every one of them must be read-only inside.
TEST_F(RootfsEscapeTest, HostSysBoundInAUserNamespaceIsReadOnlyThroughout) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/cat", "/proc/self/mountinfo"});
  spec.namespaces |= CLONE_NEWUSER;
  spec.namespaces &= ~static_cast<uint64_t>(CLONE_NEWNET);
  spec.uid_map = {{0, 200000, 65536}};
  spec.gid_map = {{0, 200000, 65536}};
  absl::StatusOr<RunResult> r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_status, 0) << r->output;
  int under_sys = 0;
  for (const auto& [point, options] : MountOptions(r->output)) {
    if (point != "/sys" && !absl::StartsWith(point, "/sys/")) continue;
    ++under_sys;
    EXPECT_TRUE(absl::StartsWith(options, "ro,")) << point << " is writable inside: " << options;
  }
  EXPECT_GE(under_sys, 1) << r->output;
  // Only meaningful where the host has mounts under /sys (it has here: the cgroup hierarchies).
  if (MountOptions(*ReadFile("/proc/self/mountinfo")).count("/sys/fs/cgroup")) {
    EXPECT_GT(under_sys, 2) << "the host's /sys submounts are missing:\n" << r->output;
  }
}

// A device node shipped in the image (the issue's /kmsg, here a harmless null 1:3) does not
// open: the rootfs is nodev.
TEST_F(RootfsEscapeTest, DeviceNodeShippedInTheImageDoesNotOpen) {
  std::string node = rootfs() + "/kmsg";
  ASSERT_EQ(::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  made_.push_back(node);
  RunResult r = Sh("/bin/open_probe rw /kmsg /dev/null");
  EXPECT_EQ(r.exit_status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("/kmsg EACCES\n"));
  EXPECT_THAT(r.output, HasSubstr("/dev/null ok\n"));  // the container's own nodes still work
}

// Root of a container without a user namespace may mknod (CAP_MKNOD), but the node opens
// nowhere: /dev, /tmp, /run, /dev/shm and the rootfs are all nodev.
TEST_F(RootfsEscapeTest, NodeMadeWithMknodInsideDoesNotOpen) {
  std::string script;
  for (const char* dir : {"/dev", "/tmp", "/run", "/dev/shm", ""}) {
    absl::StrAppend(&script, "/bin/open_probe mknod ", dir, "/made c 1 3; /bin/open_probe r ", dir, "/made; ");
  }
  RunResult r = Sh(script);
  made_.push_back(rootfs() + "/made");
  EXPECT_EQ(r.exit_status, 0) << r.output;
  for (const char* dir : {"/dev", "/tmp", "/run", "/dev/shm", ""}) {
    EXPECT_THAT(r.output, HasSubstr(absl::StrCat("mknod ", dir, "/made ok\n")));
    EXPECT_THAT(r.output, HasSubstr(absl::StrCat("\n", dir, "/made EACCES\n"))) << r.output;
  }
}

// In a user namespace mknod itself is refused.
TEST_F(RootfsEscapeTest, MknodInAUserNamespaceIsRefused) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/open_probe", "mknod", "/dev/made", "b", "7", "0"});
  spec.namespaces |= CLONE_NEWUSER;
  spec.uid_map = {{0, 200000, 65536}};
  spec.gid_map = {{0, 200000, 65536}};
  absl::StatusOr<RunResult> r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "mknod /dev/made EPERM\n");
}

// The device nodes are the host's own inodes: container root (CAP_CHOWN, CAP_FOWNER) must not
// change their owner or mode on the host (chmod 0 /dev/null would break every host service,
// chmod 0666 of a --device node opens it to every host user). Here the host's /dev/full is, in
// a private mount namespace, a node of our own on a tmpfs, so the attack changes nothing real.
// The binds are read-only (metadata), and the nodes still open for writing.
TEST_F(RootfsEscapeTest, ContainerRootCannotChangeTheHostsDeviceNodes) {
  std::string dir = temp_dir() + "/own-dev";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  std::string node = dir + "/full";
  runtime::ContainerSpec spec =
      BusyboxSpec({"/bin/sh", "-c",
                   "cat /proc/self/mountinfo; chmod 0600 /dev/full 2>&1 || echo chmod-refused; "
                   "chown 65534 /dev/full 2>&1 || echo chown-refused; /bin/open_probe w /dev/full /dev/null"});
  std::string mode_after;
  std::string out = RunInPrivateMountNamespace(spec, [&] {
    return ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") == 0 &&
           ::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 7)) == 0 && ::chmod(node.c_str(), 0666) == 0 &&
           ::mount(node.c_str(), "/dev/full", nullptr, MS_BIND, nullptr) == 0;
  });
  ::rmdir(dir.c_str());
  ASSERT_FALSE(absl::StartsWith(out, "ERROR")) << out;
  std::map<std::string, std::string> options = MountOptions(out);
  for (const runtime::DeviceSpec& d : runtime::DefaultDevices()) {
    ASSERT_TRUE(options.count(d.path)) << d.path << " is not a mount of its own:\n" << out;
    EXPECT_TRUE(absl::StartsWith(options[d.path], "ro,")) << d.path << " is bound writable: " << options[d.path];
  }
  // A masked file is /dev/null bound over it: the host's /dev/null, read-only too.
  for (const char* masked : {"/proc/keys", "/proc/timer_list", "/proc/kcore"}) {
    if (options.count(masked)) EXPECT_TRUE(absl::StartsWith(options[masked], "ro,")) << masked << ": " << options[masked];
  }
  EXPECT_THAT(out, HasSubstr("chmod-refused\n"));
  EXPECT_THAT(out, HasSubstr("chown-refused\n"));
  EXPECT_THAT(out, HasSubstr("/dev/full ok\n/dev/null ok\n"));
}

// --device gives exactly that node: without it /dev/fuse is not there (and a node made for it
// would not open), with it the host's node opens.
TEST_F(RootfsEscapeTest, DeviceOptionMakesExactlyThatNodeUsable) {
  absl::StatusOr<runtime::DeviceSpec> fuse = runtime::ParseDeviceSpec("/dev/fuse:rw");
  if (!fuse.ok()) GTEST_SKIP() << fuse.status();
  RunResult without = Sh("/bin/open_probe rw /dev/fuse; /bin/open_probe mknod /dev/fuse c 10 229; /bin/open_probe rw /dev/fuse");
  EXPECT_EQ(without.output, "/dev/fuse ENOENT\nmknod /dev/fuse ok\n/dev/fuse EACCES\n");
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/open_probe", "rw", "/dev/fuse", "/dev/net/tun"});
  spec.devices.push_back(*fuse);
  absl::StatusOr<RunResult> with = Run(spec);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(with->output, "/dev/fuse ok\n/dev/net/tun ENOENT\n");
  // A node in a directory of its own under /dev gets that directory.
  absl::StatusOr<runtime::DeviceSpec> tun = runtime::ParseDeviceSpec("/dev/net/tun");
  if (!tun.ok()) return;
  spec.devices = {*tun};
  with = Run(spec);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(with->output, "/dev/fuse ENOENT\n/dev/net/tun ok\n");
}

TEST_F(RootfsEscapeTest, CorralRunDeviceOptionAndMalformedSpecs) {
  if (::access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "no /dev/fuse here";
  CliResult ok = RunCli({"--rootfs", rootfs(), "--net", "none", "--privileged", "--device", "/dev/fuse", "--",
                         "/bin/open_probe", "rw", "/dev/fuse"});
  EXPECT_EQ(ok.exit_status, 0) << ok.output;
  EXPECT_EQ(ok.output, "/dev/fuse ok\n");
  // Unprivileged (the default), the node keeps its host owner and mode: root inside is not the
  // host's root, so a node only the host's root may open (0600, as /dev/fuse is on this VM;
  // Debian's udev makes it 0666) does not open there.
  struct stat host_node;
  ASSERT_EQ(::stat("/dev/fuse", &host_node), 0);
  CliResult unprivileged = RunCli({"--rootfs", rootfs(), "--net", "none", "--device", "/dev/fuse", "--",
                                   "/bin/open_probe", "rw", "/dev/fuse"});
  EXPECT_EQ(unprivileged.exit_status, 0) << unprivileged.output;
  EXPECT_EQ(unprivileged.output, (host_node.st_mode & 0006) == 0006 ? "/dev/fuse ok\n" : "/dev/fuse EACCES\n");
  // Access letters need a device cgroup, which corral-run makes only through a systemd scope:
  // where there is no systemd, a restricted device is refused rather than silently rwm.
  if (::access("/run/systemd/system", F_OK) != 0) {
    CliResult r = RunCli({"--rootfs", rootfs(), "--net", "none", "--device", "/dev/fuse:r", "--", "/bin/echo", "STARTED"});
    EXPECT_EQ(r.exit_status, 125) << r.output;
    EXPECT_THAT(r.output, HasSubstr("--device with access other than rwm is enforced by the device cgroup"));
    EXPECT_THAT(r.output, Not(HasSubstr("STARTED")));
  }
  for (const char* bad : {"fuse", "/dev/fuse:rwx", "/dev/no-such-device", "/dev/../etc/passwd", "/dev/pts",
                          "/dev/null"}) {
    SCOPED_TRACE(bad);
    CliResult r = RunCli({"--rootfs", rootfs(), "--net", "none", "--device", bad, "--", "/bin/echo", "STARTED"});
    EXPECT_EQ(r.exit_status, 125) << r.output;
    EXPECT_THAT(r.output, HasSubstr("corral-run: --device: device \""));
    EXPECT_THAT(r.output, Not(HasSubstr("STARTED")));
  }
}

// The rest of the issue's /proc attack: from inside, a nested user namespace with its own pid
// namespace mounts a fresh procfs, whose /proc/sys would be writable by the host's root. The
// kernel refuses that mount while the container's own procfs has masks over it ("too
// revealing"), so masks that are applied are the defence; seccomp (denying CLONE_NEWUSER)
// may stop it earlier.
TEST_F(RootfsEscapeTest, NestedUserNamespaceCannotMountAnUnmaskedProc) {
  RunResult r = Sh("mkdir -p /tmp/p; unshare -U -r -m -p -f sh -c "
                   "'mount -t proc proc /tmp/p && echo MOUNTED; /bin/open_probe w /tmp/p/sys/kernel/core_pattern'");
  EXPECT_THAT(r.output, Not(HasSubstr("MOUNTED"))) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("core_pattern ok"))) << r.output;
}

}  // namespace
}  // namespace corral::testing
