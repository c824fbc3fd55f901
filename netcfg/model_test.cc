// Unit tests of the network's pure parts: no privileges, no namespaces.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netcfg/config.h"
#include "netcfg/dns.h"
#include "netcfg/ipam.h"
#include "netcfg/ipv4.h"
#include "netcfg/nat.h"
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
  EXPECT_EQ(text, "web 10.77.0.2 ve-web tcp:8080:80\ndb 10.77.0.3 ve-db -\n");
  absl::StatusOr<std::vector<Lease>> back = ParseLeases(text);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].ports, leases[0].ports);
  EXPECT_THAT(ParseLeases("web 10.77.0.2\n").status().message(), HasSubstr("want 4"));
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
