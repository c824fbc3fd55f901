// The cgroup object's parsers on real-format samples (copied from a 6.18 kernel, hybrid and
// unified), and its reads over a fake cgroup tree laid out as systemd lays out a corral scope.
#include "runtime/cgroup/cgroup.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "runtime/cgroup/process_info.h"

namespace corral::runtime {
namespace {

constexpr char kHybridMountinfo[] =
    "132 131 0:51 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs cgroup ro,size=4096k,nr_inodes=1024,mode=755\n"
    "133 132 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "134 132 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "136 132 0:32 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory\n"
    "139 132 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "140 132 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "141 132 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "142 132 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";

constexpr char kHybridProcCgroup[] =
    "9:name=systemd:/machine.slice/corral-p1.scope\n"
    "8:pids:/machine.slice/corral-p1.scope\n"
    "7:blkio:/\n"
    "4:memory:/machine.slice/corral-p1.scope\n"
    "2:cpuacct:/\n"
    "1:cpu:/machine.slice/corral-p1.scope\n"
    "0::/machine.slice/corral-p1.scope/payload\n";

TEST(CgroupParse, MountsOfAHybridHost) {
  CgroupMounts mounts = ParseCgroupMounts(kHybridMountinfo);
  ASSERT_TRUE(mounts.unified.has_value());
  EXPECT_EQ(mounts.unified->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(mounts.unified->root, "/");
  EXPECT_EQ(mounts.v1.at("memory").mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(mounts.v1.at("name=systemd").mount_point, "/sys/fs/cgroup/systemd");
  EXPECT_EQ(mounts.v1.count("xattr"), 0u);
  EXPECT_EQ(mounts.v1.count("rw"), 0u);
  EXPECT_EQ(mounts.v1.size(), 6u);
}

// A cgroup2 mounted over a hybrid host's /sys/fs/cgroup (as the benchmarks show crun a pure
// cgroup2): the v1 mounts and unified/ under it are out of reach, so /sys/fs/cgroup/memory is
// a directory of the cgroup2 tree, not the memory hierarchy.
TEST(CgroupParse, MountsCoveredByALaterMountAreLeftOut) {
  std::string covered = std::string(kHybridMountinfo) +
                        "160 131 0:38 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n";
  CgroupMounts mounts = ParseCgroupMounts(covered);
  ASSERT_TRUE(mounts.unified.has_value());
  EXPECT_EQ(mounts.unified->mount_point, "/sys/fs/cgroup");
  EXPECT_TRUE(mounts.v1.empty());

  // A later mount below a hierarchy's mount point, or beside it, covers nothing.
  std::string beside = std::string(kHybridMountinfo) + "161 136 0:52 / /sys/fs/cgroup/memory/x rw - tmpfs t rw\n" +
                       "162 131 0:53 / /sys/fs/cgroup-other rw - tmpfs t rw\n";
  CgroupMounts kept = ParseCgroupMounts(beside);
  ASSERT_TRUE(kept.unified.has_value());
  EXPECT_EQ(kept.unified->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(kept.v1.size(), 6u);
}

TEST(CgroupParse, CombinedControllersAndTheUnifiedLine) {
  ProcCgroups cgroups = ParseProcCgroup("3:cpu,cpuacct:/a.slice\n0::/a.slice/b.scope\n");
  ASSERT_TRUE(cgroups.unified.has_value());
  EXPECT_EQ(*cgroups.unified, "/a.slice/b.scope");
  EXPECT_EQ(cgroups.v1.at("cpu"), "/a.slice");
  EXPECT_EQ(cgroups.v1.at("cpuacct"), "/a.slice");
}

TEST(CgroupParse, CpuStatAndMemoryStat) {
  constexpr char kCpuStat[] =
      "usage_usec 4815162\nuser_usec 4000000\nsystem_usec 815162\ncore_sched.force_idle_usec 0\n"
      "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n";
  EXPECT_EQ(FindKeyedValue(kCpuStat, "usage_usec"), 4815162u);
  EXPECT_EQ(FindKeyedValue(kCpuStat, "system_usec"), 815162u);
  EXPECT_FALSE(FindKeyedValue(kCpuStat, "usage").has_value());
  constexpr char kMemoryStat[] = "anon 21209088\nfile 4096\nkernel 1232896\nshmem 20971520\n";
  EXPECT_EQ(FindKeyedValue(kMemoryStat, "shmem"), 20971520u);
}

TEST(CgroupParse, IoStatSumsDevices) {
  IoBytes io = ParseIoStat(
      "8:0 rbytes=1048576 wbytes=4096 rios=12 wios=1 dbytes=0 dios=0\n"
      "253:0 rbytes=2048 wbytes=8192 rios=2 wios=2 dbytes=0 dios=0\n");
  EXPECT_EQ(io.read, 1048576u + 2048u);
  EXPECT_EQ(io.write, 4096u + 8192u);
  EXPECT_EQ(ParseIoStat("").read, 0u);
}

TEST(CgroupParse, BlkioServiceBytesSkipsTotals) {
  IoBytes io = ParseBlkioServiceBytes(
      "8:0 Read 1000\n8:0 Write 2000\n8:0 Sync 2500\n8:0 Async 500\n8:0 Discard 0\n8:0 Total 3000\n"
      "8:16 Read 10\n8:16 Write 20\n8:16 Sync 30\n8:16 Async 0\n8:16 Discard 0\n8:16 Total 30\n"
      "Total 3030\n");
  EXPECT_EQ(io.read, 1010u);
  EXPECT_EQ(io.write, 2020u);
}

TEST(CgroupParse, LimitsOfBothVersions) {
  EXPECT_EQ(ParseLimit("67108864\n"), 67108864u);
  EXPECT_FALSE(ParseLimit("max\n").has_value());
  EXPECT_FALSE(ParseLimit("9223372036854771712\n").has_value());  // v1's unlimited, 4 KiB pages
  EXPECT_EQ(ParseCounter("42\n"), 42u);
  EXPECT_FALSE(ParseCounter("").has_value());
}

TEST(ProcParse, StatWithSpacesAndParenthesesInComm) {
  absl::StatusOr<ProcStat> stat = ParseProcStat(
      "30671 (we ird) (x)) R 30668 30668 22125 0 -1 4194304 99 0 0 0 250 17 0 0 20 0 1 0 293208 3133440 390 "
      "18446744073709551615 94892669513728 94892669533609 140726138311056 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n");
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->comm, "we ird) (x)");
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->ppid, 30668);
  EXPECT_EQ(stat->utime_ticks, 250u);
  EXPECT_EQ(stat->stime_ticks, 17u);
  EXPECT_EQ(stat->rss_pages, 390u);
  EXPECT_FALSE(ParseProcStat("12 (x) R 1 2").ok());
}

TEST(ProcParse, StatusTakesTheInnermostPidAndTheRealUid) {
  absl::StatusOr<ProcStatus> status =
      ParseProcStatus("Name:\tsleep\nUid:\t100000\t100001\t100000\t100000\nGid:\t0\t0\t0\t0\nNSpid:\t4711\t12\t1\n");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->innermost_pid, 1);
  EXPECT_EQ(status->uid, 100000u);
  EXPECT_FALSE(ParseProcStatus("Name:\tx\n").ok());
}

TEST(ProcParse, UidMapAndCommandLine) {
  EXPECT_EQ(UidInside("         0     100000      65536\n", 100033), 33u);
  EXPECT_EQ(UidInside("         0          0 4294967295\n", 1000), 1000u);
  EXPECT_EQ(UidInside("         0     100000      65536\n", 5), 65534u);
  EXPECT_EQ(CommandLine(std::string("sh\0-c\0sleep 5\0", 14)), "sh -c sleep 5");
  EXPECT_EQ(CommandLine(""), "");
}

TEST(ProcRead, OwnProcess) {
  absl::StatusOr<ProcessInfo> info = ReadProcessInfo(::getpid());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->host_pid, ::getpid());
  EXPECT_GT(info->rss_bytes, 0u);
  EXPECT_NE(info->command.find("cgroup_test"), std::string::npos) << info->command;
}

// A fake hierarchy under a temporary directory, with the files a 6.18 kernel has there.
class FakeTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cgroup_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { RemoveTree(root_).IgnoreError(); }
  void Put(const std::string& path, const std::string& text) {
    std::string full = absl::StrCat(root_, "/", path);
    ASSERT_TRUE(MakeDirectories(full.substr(0, full.rfind('/'))).ok());
    ASSERT_TRUE(WriteFileAtomically(full, text).ok());
  }
  std::string Mountinfo(bool hybrid) const {
    std::string text = absl::StrCat("42 1 0:38 / ", root_, "/unified rw - cgroup2 cgroup2 rw\n");
    if (hybrid) {
      for (const char* c : {"memory", "pids", "cpuacct", "blkio"}) {
        absl::StrAppend(&text, "43 1 0:3 / ", root_, "/", c, " rw - cgroup cgroup rw,", c, "\n");
      }
    }
    return text;
  }
  std::string root_;
};

constexpr char kScope[] = "machine.slice/corral-web.scope";

TEST_F(FakeTree, UnifiedPayloadWithTheLimitOnTheScope) {
  Put(absl::StrCat("unified/", kScope, "/memory.max"), "67108864\n");
  Put(absl::StrCat("unified/", kScope, "/pids.max"), "max\n");
  Put("unified/machine.slice/pids.max", "1000\n");
  Put(absl::StrCat("unified/", kScope, "/payload/memory.max"), "max\n");
  Put(absl::StrCat("unified/", kScope, "/payload/memory.current"), "22020096\n");
  Put(absl::StrCat("unified/", kScope, "/payload/memory.peak"), "23068672\n");
  Put(absl::StrCat("unified/", kScope, "/payload/pids.current"), "3\n");
  Put(absl::StrCat("unified/", kScope, "/payload/pids.max"), "max\n");
  Put(absl::StrCat("unified/", kScope, "/payload/cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  Put(absl::StrCat("unified/", kScope, "/payload/io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
  Put(absl::StrCat("unified/", kScope, "/payload/cgroup.procs"), "10\n11\n");
  Put(absl::StrCat("unified/", kScope, "/payload/init.scope/cgroup.procs"), "12\n");
  Put(absl::StrCat("unified/", kScope, "/supervisor/cgroup.procs"), "9\n");

  // The leader moved itself below the payload leaf (a booted systemd's init.scope).
  absl::StatusOr<Cgroup> cgroup =
      Cgroup::FromTexts(Mountinfo(false), absl::StrCat("0::/", kScope, "/payload/init.scope\n"));
  ASSERT_TRUE(cgroup.ok()) << cgroup.status();
  ASSERT_TRUE(cgroup->ScopeTo("corral-web.scope", "payload").ok());
  EXPECT_EQ(cgroup->Directory(), absl::StrCat(root_, "/unified/", kScope, "/payload"));
  EXPECT_EQ(cgroup->MountPoint(), root_ + "/unified");
  EXPECT_EQ(cgroup->Layout(), "unified");
  CgroupStats stats = cgroup->Stats();
  EXPECT_EQ(stats.memory_current, 22020096u);
  EXPECT_EQ(stats.memory_peak, 23068672u);
  EXPECT_EQ(stats.memory_limit, 67108864u);  // the scope's, in force for the payload
  EXPECT_EQ(stats.pids_current, 3u);
  EXPECT_EQ(stats.pids_limit, 1000u);  // the slice's
  EXPECT_EQ(stats.cpu_usage_usec, 1500u);
  EXPECT_EQ(stats.io_read_bytes, 4096u);
  EXPECT_EQ(stats.io_write_bytes, 8192u);
  absl::StatusOr<std::vector<pid_t>> pids = cgroup->Processes();
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_EQ(*pids, (std::vector<pid_t>{10, 11, 12}));  // recursive, not the supervisor's leaf
}

TEST_F(FakeTree, HybridReadsTheV1ControllersAndLeavesTheRootOut) {
  Put(absl::StrCat("unified/", kScope, "/payload/cpu.stat"), "usage_usec 777\nuser_usec 700\nsystem_usec 77\n");
  Put(absl::StrCat("unified/", kScope, "/payload/cgroup.procs"), "10\n");
  Put(absl::StrCat("memory/", kScope, "/memory.usage_in_bytes"), "30000000\n");
  Put(absl::StrCat("memory/", kScope, "/memory.max_usage_in_bytes"), "31000000\n");
  Put(absl::StrCat("memory/", kScope, "/memory.limit_in_bytes"), "67108864\n");
  Put("memory/machine.slice/memory.limit_in_bytes", "9223372036854771712\n");
  Put(absl::StrCat("pids/", kScope, "/pids.current"), "4\n");
  Put(absl::StrCat("pids/", kScope, "/pids.max"), "512\n");
  Put("blkio/blkio.throttle.io_service_bytes_recursive", "8:0 Read 999999\n8:0 Write 999999\nTotal 1999998\n");
  Put("cpuacct/cpuacct.usage", "123456789000\n");  // the root's: the whole host

  std::string proc = absl::StrCat("8:pids:/", kScope, "\n7:blkio:/\n4:memory:/", kScope, "\n2:cpuacct:/\n0::/", kScope,
                                  "/payload\n");
  absl::StatusOr<Cgroup> cgroup = Cgroup::FromTexts(Mountinfo(true), proc);
  ASSERT_TRUE(cgroup.ok()) << cgroup.status();
  ASSERT_TRUE(cgroup->ScopeTo("corral-web.scope", "payload").ok());
  EXPECT_EQ(cgroup->Layout(), "hybrid");
  EXPECT_EQ(cgroup->V1Directory("memory"), absl::StrCat(root_, "/memory/", kScope));
  EXPECT_EQ(cgroup->V1Directory("blkio"), "");
  CgroupStats stats = cgroup->Stats();
  EXPECT_EQ(stats.memory_current, 30000000u);
  EXPECT_EQ(stats.memory_peak, 31000000u);
  EXPECT_EQ(stats.memory_limit, 67108864u);
  EXPECT_EQ(stats.pids_current, 4u);
  EXPECT_EQ(stats.pids_limit, 512u);
  EXPECT_EQ(stats.cpu_usage_usec, 777u);  // cgroup2's core cpu.stat before cpuacct
  EXPECT_EQ(stats.io_read_bytes, 0u);     // blkio at the root is not the container's
}

TEST_F(FakeTree, HybridCpuacctWhenCgroup2HasNoCpuStat) {
  Put(absl::StrCat("unified/", kScope, "/payload/cgroup.procs"), "10\n");
  Put(absl::StrCat("cpuacct/", kScope, "/cpuacct.usage"), "2500000\n");
  Put(absl::StrCat("blkio/", kScope, "/blkio.throttle.io_service_bytes_recursive"),
      "8:0 Read 512\n8:0 Write 1024\n8:0 Total 1536\nTotal 1536\n");
  std::string proc = absl::StrCat("7:blkio:/", kScope, "\n2:cpuacct:/", kScope, "\n0::/", kScope, "/payload\n");
  absl::StatusOr<Cgroup> cgroup = Cgroup::FromTexts(Mountinfo(true), proc);
  ASSERT_TRUE(cgroup.ok()) << cgroup.status();
  ASSERT_TRUE(cgroup->ScopeTo("corral-web.scope", "payload").ok());
  CgroupStats stats = cgroup->Stats();
  EXPECT_EQ(stats.cpu_usage_usec, 2500u);  // ns to us
  EXPECT_EQ(stats.io_read_bytes, 512u);
  EXPECT_EQ(stats.io_write_bytes, 1024u);
  EXPECT_EQ(stats.memory_limit, 0u);  // no memory controller anywhere: no limit
}

TEST_F(FakeTree, PopulatedAndTheDirectoryFd) {
  Put(absl::StrCat("unified/", kScope, "/cgroup.events"), "populated 1\nfrozen 0\n");
  absl::StatusOr<Cgroup> cgroup = Cgroup::FromTexts(Mountinfo(false), absl::StrCat("0::/", kScope, "\n"));
  ASSERT_TRUE(cgroup.ok());
  absl::StatusOr<bool> populated = cgroup->Populated();
  ASSERT_TRUE(populated.ok()) << populated.status();
  EXPECT_TRUE(*populated);
  Put(absl::StrCat("unified/", kScope, "/cgroup.events"), "populated 0\nfrozen 0\n");
  EXPECT_FALSE(*cgroup->Populated());
  absl::StatusOr<UniqueFd> fd = cgroup->OpenDirectory();
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_TRUE(fd->valid());
}

TEST_F(FakeTree, ReadsNeverClimbAboveTheScope) {
  Put("unified/machine.slice/memory.current", "999999999\n");
  Put(absl::StrCat("unified/", kScope, "/payload/cgroup.procs"), "10\n");
  absl::StatusOr<Cgroup> cgroup = Cgroup::FromTexts(Mountinfo(false), absl::StrCat("0::/", kScope, "/payload\n"));
  ASSERT_TRUE(cgroup.ok());
  ASSERT_TRUE(cgroup->ScopeTo("corral-web.scope", "payload").ok());
  EXPECT_EQ(cgroup->Stats().memory_current, 0u);
}

TEST_F(FakeTree, AProcessOutsideTheUnitIsRefused) {
  absl::StatusOr<Cgroup> cgroup = Cgroup::FromTexts(Mountinfo(false), "0::/system.slice/other.service\n");
  ASSERT_TRUE(cgroup.ok());
  EXPECT_FALSE(cgroup->ScopeTo("corral-web.scope", "payload").ok());
  EXPECT_FALSE(Cgroup::FromTexts(Mountinfo(false), "0::/../../elsewhere\n").ok());
}

TEST(CgroupOf, ThisProcess) {
  absl::StatusOr<Cgroup> cgroup = Cgroup::Of(0);
  ASSERT_TRUE(cgroup.ok()) << cgroup.status();
  absl::StatusOr<std::vector<pid_t>> pids = cgroup->Processes();
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_NE(std::find(pids->begin(), pids->end(), ::getpid()), pids->end());
}

TEST_F(FakeTree, MakeLeafMakesTheCgroup2DirectoryAndKeepsTheV1Places) {
  Put(absl::StrCat("unified/", kScope, "/cgroup.procs"), "");
  Put(absl::StrCat("memory/", kScope, "/memory.usage_in_bytes"), "4096\n");
  absl::StatusOr<Cgroup> scope =
      Cgroup::FromTexts(Mountinfo(true), absl::StrCat("4:memory:/", kScope, "\n0::/", kScope, "\n"));
  ASSERT_TRUE(scope.ok()) << scope.status();
  absl::StatusOr<Cgroup> payload = scope->MakeLeaf("payload");
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(payload->Directory(), absl::StrCat(root_, "/unified/", kScope, "/payload"));
  struct stat st;
  EXPECT_EQ(::stat(payload->Directory().c_str(), &st), 0);
  EXPECT_EQ(payload->V1Directory("memory"), scope->V1Directory("memory"));
  ASSERT_TRUE(scope->MakeLeaf("payload").ok());  // there already: fine

  // Enter writes the pid into the leaf's cgroup.procs (a plain file in the fake tree).
  Put(absl::StrCat("unified/", kScope, "/payload/cgroup.procs"), "");
  ASSERT_TRUE(payload->Enter(1234).ok());
  absl::StatusOr<std::string> procs = ReadFile(payload->Directory() + "/cgroup.procs");
  ASSERT_TRUE(procs.ok());
  EXPECT_EQ(*procs, "1234");
}

TEST(MachineSliceTest, ScopeDirectory) {
  EXPECT_EQ(MachineScopeDirectory("/sys/fs/cgroup/unified", "corral-a.scope"),
            "/sys/fs/cgroup/unified/machine.slice/corral-a.scope");
}

}  // namespace
}  // namespace corral::runtime
