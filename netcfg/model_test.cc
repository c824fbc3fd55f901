// Unit tests of the network's pure parts: no privileges, no namespaces.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/directory_syncs.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netcfg/config.h"
#include "netcfg/dns.h"
#include "netcfg/ipam.h"
#include "netcfg/ipv4.h"
#include "netcfg/nat.h"
#include "netcfg/network.h"
#include "netcfg/owner.h"
#include "netcfg/ports.h"

namespace corral::netcfg {
namespace {

using ::testing::HasSubstr;

TEST(Ipv4, ParsesAndFormats) {
  ASSERT_EQ(*ParseIpv4("10.77.0.1"), 0x0a4d0001u);
  EXPECT_EQ(FormatIpv4(0x0a4d0001u), "10.77.0.1");
  for (const char* bad : {"", "10.77.0", "10.77.0.256", "10.77.0.1.2", "a.b.c.d", "10.77.0.-1", "1234.0.0.1"}) {
    EXPECT_FALSE(ParseIpv4(bad).ok()) << bad;
  }
}

TEST(Ipv4, InterfaceNeedsAHostOnASubnet) {
  absl::StatusOr<Ipv4Interface> gw = ParseIpv4Interface("10.77.0.1/16");
  ASSERT_TRUE(gw.ok());
  EXPECT_EQ(gw->SubnetString(), "10.77.0.0/16");
  EXPECT_EQ(FormatIpv4(gw->broadcast()), "10.77.255.255");
  EXPECT_TRUE(gw->Contains(*ParseIpv4("10.77.200.3")));
  EXPECT_FALSE(gw->Contains(*ParseIpv4("10.78.0.3")));
  EXPECT_THAT(ParseIpv4Interface("10.77.0.0/16").status().message(), HasSubstr("network address"));
  EXPECT_THAT(ParseIpv4Interface("10.77.255.255/16").status().message(), HasSubstr("broadcast address"));
  EXPECT_THAT(ParseIpv4Interface("10.77.0.1/33").status().message(), HasSubstr("prefix length"));
  EXPECT_THAT(ParseIpv4Interface("10.77.0.1/31").status().message(), HasSubstr("prefix length"));
  EXPECT_THAT(ParseIpv4Interface("10.77.0.1").status().message(), HasSubstr("no prefix"));
}

TEST(Ports, ParsesTheCommandLineForm) {
  EXPECT_EQ(*ParsePortForward("8080:80"), (PortForward{Protocol::kTcp, 8080, 80}));
  EXPECT_EQ(*ParsePortForward("udp:5353:53"), (PortForward{Protocol::kUdp, 5353, 53}));
  EXPECT_EQ(ToString(*ParsePortForward("tcp:1:65535")), "tcp:1:65535");
  EXPECT_THAT(ParsePortForward("70000:80").status().message(), HasSubstr("host port \"70000\""));
  EXPECT_THAT(ParsePortForward("abc").status().message(), HasSubstr("[tcp|udp:]HOSTPORT:CONTAINERPORT"));
  EXPECT_THAT(ParsePortForward("80:0").status().message(), HasSubstr("container port \"0\""));
  EXPECT_THAT(ParsePortForward("sctp:80:80").status().message(), HasSubstr("unknown protocol"));
  EXPECT_FALSE(ParsePortForward("8080:").ok());
  EXPECT_FALSE(ParsePortForward("+80:80").ok());
}

TEST(Ports, OverlappingForwardsAreAnError) {
  EXPECT_TRUE(CheckNoOverlap({*ParsePortForward("80:80"), *ParsePortForward("udp:80:80")}).ok());
  EXPECT_THAT(CheckNoOverlap({*ParsePortForward("80:80"), *ParsePortForward("tcp:80:81")}).message(),
              HasSubstr("tcp/80 is forwarded twice"));
}

TEST(Config, DefaultsAndKeys) {
  absl::StatusOr<NetworkConfig> config = ParseNetworkConfig(
      "# comment\nbridge = br-test\naddress = 172.30.0.1/24  # gateway\nmtu=1400\ndns = 192.0.2.1 192.0.2.2\n"
      "state_dir = /tmp/x\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bridge, "br-test");
  EXPECT_EQ(config->gateway.ToString(), "172.30.0.1/24");
  EXPECT_EQ(config->mtu, 1400u);
  EXPECT_THAT(config->dns, ::testing::ElementsAre("192.0.2.1", "192.0.2.2"));
  EXPECT_EQ(config->state_dir, "/tmp/x");
  NetworkConfig defaults;
  EXPECT_EQ(defaults.bridge, "corral0");
  EXPECT_EQ(defaults.gateway.ToString(), "10.77.0.1/16");
}

TEST(Config, BadInputNamesLineAndKey) {
  EXPECT_THAT(ParseNetworkConfig("\naddress = 10.0.0.0/8\n").status().message(),
              HasSubstr("line 2: address: \"10.0.0.0/8\": 10.0.0.0 is the network address"));
  EXPECT_THAT(ParseNetworkConfig("bridge = this-name-is-too-long\n").status().message(), HasSubstr("bridge"));
  EXPECT_THAT(ParseNetworkConfig("colour = blue\n").status().message(), HasSubstr("unknown key \"colour\""));
  EXPECT_THAT(ParseNetworkConfig("mtu = 9\n").status().message(), HasSubstr("mtu"));
  EXPECT_THAT(ParseNetworkConfig("state_dir = relative\n").status().message(), HasSubstr("absolute"));
  EXPECT_THAT(ParseNetworkConfig("just words\n").status().message(), HasSubstr("key = value"));
}

TEST(Config, MissingFileGivesDefaults) {
  absl::StatusOr<NetworkConfig> config = LoadNetworkConfig("/nonexistent/corral/network.conf");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->bridge, "corral0");
}

TEST(Ipam, HostInterfaceNamesFitAndDiffer) {
  EXPECT_EQ(HostInterfaceName("web"), "ve-web");
  EXPECT_EQ(HostInterfaceName("abcdefghijkl"), "ve-abcdefghijkl");
  std::string long_a = HostInterfaceName("database-primary-1");
  std::string long_b = HostInterfaceName("database-primary-2");
  EXPECT_EQ(long_a.size(), 15u);
  EXPECT_NE(long_a, long_b);
  EXPECT_NE(HostInterfaceName("database-primary-1", 1), long_a);
  EXPECT_TRUE(ValidateInterfaceName(long_a).ok());
}

TEST(Ipam, FileFormatRoundTrips) {
  std::vector<Lease> leases = {{"web", 0x0a4d0002, "ve-web", {*ParsePortForward("8080:80")}},
                               {"db", 0x0a4d0003, "ve-db", {}}};
  std::string text = FormatLeases(leases);
  EXPECT_EQ(text, "corral-leases 1\nweb 10.77.0.2 ve-web tcp:8080:80\ndb 10.77.0.3 ve-db -\nend 2\n");
  absl::StatusOr<std::vector<Lease>> back = ParseLeases(text);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].ports, leases[0].ports);
  EXPECT_THAT(ParseLeases("web 10.77.0.2\n").status().message(), HasSubstr("want 4"));
  EXPECT_EQ(FormatLeases({}), "corral-leases 1\nend 0\n");
  EXPECT_TRUE(ParseLeases(FormatLeases({}))->empty());
  // The earlier format (lease lines only) is still read.
  absl::StatusOr<std::vector<Lease>> legacy = ParseLeases("web 10.77.0.2 ve-web tcp:8080:80\n");
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_EQ(legacy->size(), 1u);
}

TEST(Ipam, BrokenFilesAreErrorsNotFewerLeases) {
  std::string good = FormatLeases({{"web", 0x0a4d0002, "ve-web", {}}, {"db", 0x0a4d0003, "ve-db", {}}});
  std::vector<std::string> broken = {
      "",                                           // emptied (a truncation, a crash before the fsyncs)
      "\n\n",                                       // blank
      good.substr(0, good.size() - 5),              // cut mid-way: no end line
      good.substr(0, good.find("db ")),             // cut at a line boundary
      "corral-leases 1\nweb 10.77.0.2 ve-web -\nend 2\n",  // fewer than it says
      "corral-leases 1\nweb 10.77.0.2 ve-web -\nend 1\nextra 10.77.0.9 ve-x -\n",
      "corral-leases 1\n\xff\xfe garbage\nend 1\n",
      "corral-leases 1\nweb 10.77.0.999 ve-web -\nend 1\n",
  };
  for (const std::string& text : broken) {
    absl::StatusOr<std::vector<Lease>> parsed = ParseLeases(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss) << absl::CHexEscape(text);
  }
}

class LeaseStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corral-ipam-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }
  std::string dir_;
};

TEST_F(LeaseStoreTest, LowestFreeAddressKeptAcrossRestartsAndReused) {
  LeaseStore store(dir_ + "/net", *ParseIpv4Interface("10.77.0.1/16"));
  EXPECT_EQ(FormatIpv4(store.Acquire("a", {})->lease.address), "10.77.0.2");
  EXPECT_EQ(FormatIpv4(store.Acquire("b", {})->lease.address), "10.77.0.3");
  // Again for "a" (a restart): the same address, and `previous` says what it had.
  absl::StatusOr<LeaseStore::Acquired> again = store.Acquire("a", {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FormatIpv4(again->lease.address), "10.77.0.2");
  ASSERT_TRUE(again->previous.has_value());
  // A fresh store on the same directory sees the same leases (persisted).
  LeaseStore reopened(dir_ + "/net", *ParseIpv4Interface("10.77.0.1/16"));
  EXPECT_EQ(reopened.List()->size(), 2u);
  // Freed addresses come back.
  ASSERT_TRUE(reopened.Release("a").ok());
  EXPECT_EQ(FormatIpv4(reopened.Acquire("c", {})->lease.address), "10.77.0.2");
  EXPECT_FALSE(reopened.Release("nobody")->has_value());
}

// The lease is durable once the caller's Wait returns: the leases directory is among what it
// joined. A restart whose lease is already as asked writes (and fsyncs) nothing.
TEST_F(LeaseStoreTest, AcquireHandsTheDirectoryFsyncToTheCallerAndSkipsAnUnchangedLease) {
  LeaseStore store(dir_ + "/net", *ParseIpv4Interface("10.77.0.1/16"));
  std::vector<PortForward> ports = {*ParsePortForward("8080:80")};
  DirectorySyncs first;
  ASSERT_TRUE(store.Acquire("a", ports, &first).ok());
  ASSERT_TRUE(first.Wait().ok());
  EXPECT_EQ(first.synced(), std::vector<std::string>{dir_ + "/net"});

  struct stat before;
  ASSERT_EQ(::stat((dir_ + "/net/leases").c_str(), &before), 0);
  DirectorySyncs same;
  absl::StatusOr<LeaseStore::Acquired> again = store.Acquire("a", ports, &same);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->lease.ports, ports);
  ASSERT_TRUE(same.Wait().ok());
  EXPECT_TRUE(same.synced().empty());
  struct stat after;
  ASSERT_EQ(::stat((dir_ + "/net/leases").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);  // not replaced

  // Other forwards are a change: written and synced again.
  DirectorySyncs changed;
  ASSERT_TRUE(store.Acquire("a", {}, &changed).ok());
  ASSERT_TRUE(changed.Wait().ok());
  EXPECT_EQ(changed.synced(), std::vector<std::string>{dir_ + "/net"});
  EXPECT_TRUE(store.List()->front().ports.empty());
}

TEST_F(LeaseStoreTest, GatewayIsNeverLeasedAndExhaustionIsClear) {
  // A /29 has 6 hosts; the gateway (the last one here) takes one.
  LeaseStore store(dir_, *ParseIpv4Interface("192.0.2.6/29"));
  std::set<std::string> got;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<LeaseStore::Acquired> a = store.Acquire(absl::StrCat("c", i), {});
    ASSERT_TRUE(a.ok()) << a.status();
    got.insert(FormatIpv4(a->lease.address));
  }
  EXPECT_EQ(got, (std::set<std::string>{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}));
  absl::StatusOr<LeaseStore::Acquired> full = store.Acquire("one-too-many", {});
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("no free address left in 192.0.2.0/29"));
  EXPECT_EQ(store.List()->size(), 5u);  // nothing changed
}

TEST_F(LeaseStoreTest, HostPortForwardedElsewhereIsRefused) {
  LeaseStore store(dir_, *ParseIpv4Interface("10.77.0.1/16"));
  ASSERT_TRUE(store.Acquire("web", {*ParsePortForward("8080:80")}).ok());
  absl::StatusOr<LeaseStore::Acquired> other = store.Acquire("api", {*ParsePortForward("tcp:8080:9000")});
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(), HasSubstr("tcp/8080 is already forwarded to container \"web\""));
  EXPECT_EQ(store.List()->size(), 1u);
  // udp/8080 is a different port; after web stops (ClearPorts) tcp/8080 is free again.
  EXPECT_TRUE(store.Acquire("dns", {*ParsePortForward("udp:8080:53")}).ok());
  absl::StatusOr<std::optional<Lease>> cleared = store.ClearPorts("web");
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ((*cleared)->ports.size(), 1u);
  EXPECT_TRUE(store.Acquire("api", {*ParsePortForward("tcp:8080:9000")}).ok());
}

TEST_F(LeaseStoreTest, ConcurrentProcessesNeverShareAnAddress) {
  constexpr int kProcesses = 20;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      LeaseStore store(dir_, *ParseIpv4Interface("10.77.0.1/16"));
      ::_exit(store.Acquire(absl::StrCat("c", i), {}).ok() ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  LeaseStore store(dir_, *ParseIpv4Interface("10.77.0.1/16"));
  std::vector<Lease> leases = *store.List();
  ASSERT_EQ(leases.size(), static_cast<size_t>(kProcesses));
  std::set<uint32_t> addresses;
  std::set<std::string> interfaces;
  for (const Lease& l : leases) {
    addresses.insert(l.address);
    interfaces.insert(l.host_interface);
  }
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kProcesses));
  EXPECT_EQ(interfaces.size(), static_cast<size_t>(kProcesses));
}

TEST_F(LeaseStoreTest, BrokenLeasesFileRefusesToAllocate) {
  LeaseStore store(dir_, *ParseIpv4Interface("10.77.0.1/16"));
  ASSERT_TRUE(store.Acquire("web", {}).ok());
  ASSERT_TRUE(store.Acquire("db", {}).ok());
  for (const std::string& text : {std::string(""), std::string("\x01\x02 not a lease file\n")}) {
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/leases", text).ok());
    // An emptied file read as "no leases" would give web's 10.77.0.2 to the next container.
    absl::StatusOr<LeaseStore::Acquired> next = store.Acquire("next", {});
    ASSERT_FALSE(next.ok());
    EXPECT_EQ(next.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(next.status().message(), HasSubstr(dir_ + "/leases"));
    EXPECT_THAT(next.status().message(), HasSubstr("no address is handed out"));
    EXPECT_FALSE(store.Release("web").ok());
    EXPECT_EQ(*ReadFile(dir_ + "/leases"), text);  // left as it was, for whoever mends it
  }
}

TEST_F(LeaseStoreTest, UpdateWritesOnlyWhenAskedAndNothingOnError) {
  LeaseStore store(dir_, *ParseIpv4Interface("10.77.0.1/16"));
  ASSERT_TRUE(store.Acquire("web", {*ParsePortForward("8080:80")}).ok());
  std::string before = *ReadFile(dir_ + "/leases");
  absl::Status failed = store.Update([](std::vector<Lease>& leases) -> absl::StatusOr<bool> {
    leases.clear();
    return absl::InternalError("nft failed");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(*ReadFile(dir_ + "/leases"), before);
  ASSERT_TRUE(store.Update([](std::vector<Lease>& leases) -> absl::StatusOr<bool> {
                 leases.clear();
                 return true;
               }).ok());
  EXPECT_TRUE(store.List()->empty());
}

TEST(Owner, StartTimeSurvivesOddCommandNames) {
  // Field 22; the command name "a) (b c" has spaces and parens.
  std::string stat = "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
  EXPECT_EQ(*ParseStatStartTime(stat), 987654u);
  EXPECT_FALSE(ParseStatStartTime("4242 (x) S 1").ok());
  absl::StatusOr<ProcessIdentity> self = IdentifyProcess(::getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GT(self->start_time, 0u);
  EXPECT_EQ(self->boot.size(), 8u);
}

TEST(Owner, RunLeaseNamesIdentifyOneProcessOfOneBoot) {
  ProcessIdentity self = *IdentifyProcess(::getpid());
  std::string name = RunLeaseName(self);
  EXPECT_EQ(ParseRunLeaseName(name), self);
  EXPECT_EQ(RunLeaseLiveness(name), RunLiveness::kAlive);
  for (const char* other : {"web", "run-123", "run-1-2", "run-x-2-abcdef01", "run-1-2-ABCDEF01", "run-1-2-abc"}) {
    EXPECT_FALSE(ParseRunLeaseName(other).has_value()) << other;
    EXPECT_EQ(RunLeaseLiveness(other), RunLiveness::kNotARun) << other;
  }
  // The same pid started at another time (a recycled pid), or in another boot: not this run.
  ProcessIdentity recycled = self;
  recycled.start_time += 1;
  EXPECT_EQ(RunLeaseLiveness(RunLeaseName(recycled)), RunLiveness::kDead);
  ProcessIdentity other_boot = self;
  other_boot.boot = self.boot == "00000000" ? "11111111" : "00000000";
  EXPECT_EQ(RunLeaseLiveness(RunLeaseName(other_boot)), RunLiveness::kDead);
  // A process that has exited.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ProcessIdentity dead = self;
  dead.pid = child;
  absl::StatusOr<ProcessIdentity> child_identity = IdentifyProcess(child);
  if (child_identity.ok()) dead = *child_identity;
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(RunLeaseLiveness(RunLeaseName(dead)), RunLiveness::kDead);
}

TEST(Owner, HeldClaimsComeFromProcNetUnix) {
  std::string text =
      "Num       RefCount Protocol Flags    Type St Inode Path\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 25939 /run/systemd/private\n"
      "0000000000000000: 00000002 00000000 00000000 0001 01 31337 @corral/network/web\n"
      "0000000000000000: 00000002 00000000 00000000 0001 01 31338 @corral/network/run-7-8-abcdef01\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 31339\n"
      "0000000000000000: 00000002 00000000 00000000 0001 01 31340 @other/corral/network/x\n";
  EXPECT_EQ(ParseHeldNetworkClaims(text), (std::set<std::string>{"web", "run-7-8-abcdef01"}));
}

TEST(Nat, ReadsMapElementsAsNftListsThem) {
  // `nft list map` output, wrapped as nft wraps long element lists.
  std::string text =
      "table ip corral {\n\tmap tcp_forwards {\n\t\ttype inet_service : ipv4_addr . inet_service\n"
      "\t\telements = { 8081 : 10.77.0.2 . 80, 8082 : 10.77.0.3 . 80,\n\t\t\t     8083 : 10.77.0.4 . 8000 }\n"
      "\t}\n}\ntable ip corral {\n\tmap udp_forwards {\n\t\ttype inet_service : ipv4_addr . inet_service\n"
      "\t}\n}\n";
  absl::StatusOr<std::vector<MapForward>> parsed = ParseMapForwards(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[2], (MapForward{Protocol::kTcp, 8083, 0x0a4d0004, 8000}));
  EXPECT_EQ(ToString((*parsed)[0]), "tcp/8081 -> 10.77.0.2:80");
  std::string udp =
      "table ip corral {\n\tmap tcp_forwards {\n\t\ttype inet_service : ipv4_addr . inet_service\n\t}\n}\n"
      "table ip corral {\n\tmap udp_forwards {\n\t\ttype inet_service : ipv4_addr . inet_service\n"
      "\t\telements = { 53 : 10.77.0.9 . 5353 }\n\t}\n}\n";
  parsed = ParseMapForwards(udp);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, (std::vector<MapForward>{{Protocol::kUdp, 53, 0x0a4d0009, 5353}}));
  EXPECT_FALSE(ParseMapForwards("map tcp_forwards {\n elements = { 80 : nonsense }\n }\n").ok());
}

TEST(Reclaim, JudgesLeasesAndFindsWhatBelongsToNobody) {
  using Fate = BridgeNetwork::LeaseFate;
  std::vector<Lease> leases = {
      {"running", 0x0a4d0002, "ve-running", {*ParsePortForward("8080:80")}},
      {"stopped", 0x0a4d0003, "ve-stopped", {*ParsePortForward("8081:80")}},  // an unclean end
      {"gone", 0x0a4d0004, "ve-gone", {*ParsePortForward("8082:80")}},
      {"claimed", 0x0a4d0005, "ve-claimed", {}},
  };
  std::set<std::string> claims = {"claimed"};
  JudgedLeases judged = JudgeLeases(leases, claims, [](const Lease& l, bool claimed) {
    if (claimed || l.container == "running") return Fate::kKeep;
    return l.container == "stopped" ? Fate::kKeepAddress : Fate::kFree;
  });
  EXPECT_EQ(judged.running, (std::set<std::string>{"running", "claimed"}));
  ASSERT_EQ(judged.kept.size(), 3u);
  EXPECT_TRUE(judged.kept[1].ports.empty());  // stopped keeps 10.77.0.3, not its forward
  EXPECT_EQ(judged.kept[1].address, 0x0a4d0003u);
  ASSERT_EQ(judged.freed.size(), 1u);
  EXPECT_EQ(judged.freed[0].container, "gone");
  ASSERT_EQ(judged.ports_cleared.size(), 1u);

  std::vector<MapForward> elements = {
      {Protocol::kTcp, 8080, 0x0a4d0002, 80},  // running's own: stays
      {Protocol::kTcp, 8081, 0x0a4d0003, 80},  // stopped's
      {Protocol::kTcp, 8082, 0x0a4d0004, 80},  // gone's
      {Protocol::kTcp, 9000, 0x0a4d0009, 80},  // to an address nobody leases
      {Protocol::kUdp, 8080, 0x0a4d0002, 80},  // running's address, but not a forward it asked for
      {Protocol::kTcp, 8080, 0x0a4d0002, 81},
  };
  std::vector<MapForward> stale = StaleForwards(judged, elements);
  EXPECT_EQ(stale, (std::vector<MapForward>(elements.begin() + 1, elements.end())));
  EXPECT_EQ(StaleLinks(judged, {"ve-running", "ve-claimed", "ve-stopped", "ve-gone", "ve-x", "uplink0"}),
            (std::vector<std::string>{"ve-stopped", "ve-gone", "ve-x"}));
  EXPECT_EQ(StaleRunDirs(judged, {".", "..", "running", "stopped", "gone", "claimed"}),
            (std::vector<std::string>{"stopped", "gone"}));
}

TEST(Reclaim, CorralRunFreesOnlyDeadRunsAndKeepsOthersAddresses) {
  using Fate = BridgeNetwork::LeaseFate;
  ProcessIdentity self = *IdentifyProcess(::getpid());
  ProcessIdentity dead = self;
  dead.start_time += 1;
  EXPECT_EQ(JudgeLeaseForRun({RunLeaseName(self), 1, "", {}}, false), Fate::kKeep);
  EXPECT_EQ(JudgeLeaseForRun({RunLeaseName(dead), 1, "", {}}, false), Fate::kFree);
  EXPECT_EQ(JudgeLeaseForRun({RunLeaseName(dead), 1, "", {}}, true), Fate::kKeep);  // a live claim wins
  EXPECT_EQ(JudgeLeaseForRun({"web", 1, "", {}}, true), Fate::kKeep);
  // corrald's stopped container (or a named run that died): the address is not corral-run's
  // to free, the forwards go.
  EXPECT_EQ(JudgeLeaseForRun({"web", 1, "", {}}, false), Fate::kKeepAddress);
}

TEST(Dns, ResolvConfDropsLoopbackServers) {
  std::string host = "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.10\nsearch example.org\noptions edns0\n";
  std::string out = ContainerResolvConf(host, {});
  EXPECT_THAT(out, HasSubstr("nameserver 192.0.2.10\n"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("127.0.0.53")));
  EXPECT_THAT(out, HasSubstr("search example.org\n"));
  EXPECT_THAT(out, HasSubstr("options edns0\n"));
  std::string configured = ContainerResolvConf(host, {"192.0.2.99"});
  EXPECT_THAT(configured, HasSubstr("nameserver 192.0.2.99\n"));
  EXPECT_THAT(configured, ::testing::Not(HasSubstr("192.0.2.10")));
  EXPECT_THAT(ContainerHosts("web", "10.77.0.2"), HasSubstr("10.77.0.2\tweb\n"));
}

TEST(Nat, RulesetCoversSubnetAndBridge) {
  NetworkConfig config;
  std::string rules = HostRuleset(config);
  EXPECT_THAT(rules, HasSubstr("ip saddr 10.77.0.0/16 ip daddr != 10.77.0.0/16 masquerade"));
  EXPECT_THAT(rules, HasSubstr("forward iifname \"corral0\" accept"));
  EXPECT_THAT(rules, HasSubstr("dnat ip to tcp dport map @tcp_forwards"));
  EXPECT_THAT(rules, ::testing::Not(HasSubstr("flush table")));  // keeps the forwards' maps
}

TEST(Nat, FindsOtherTablesDroppingForwards) {
  std::string chains =
      "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n"
      "table ip corral {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n"
      "table inet fw {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n";
  EXPECT_THAT(FindForwardDroppingChains(chains), ::testing::ElementsAre("table ip filter chain FORWARD"));
}

}  // namespace
}  // namespace corral::netcfg
