// The bridge network against the real kernel: real rtnetlink, real nftables, real namespaces.
// Each test builds its own world (tests/net_world.h): a "host" namespace where the bridge and
// corral's table live, an "outside" namespace behind an uplink veth, and a namespace per
// container. Traffic only ever goes between those namespaces.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netcfg/nat.h"
#include "netcfg/network.h"
#include "netcfg/rtnetlink.h"
#include "tests/net_world.h"

namespace corral {
namespace {

using netcfg::BridgeNetwork;
using netcfg::ContainerNetwork;
using netcfg::FormatIpv4;
using netcfg::ParsePortForward;
using testing::kHostUplinkAddress;
using testing::kOutsideAddress;
using testing::NetWorld;
using ::testing::HasSubstr;

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    const absl::Status _s = (expr);                      \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s;         \
  } while (0)

class BridgeNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, rtnetlink, nftables)";
    absl::StatusOr<std::unique_ptr<NetWorld>> world = NetWorld::Create();
    ASSERT_TRUE(world.ok()) << world.status();
    world_ = std::move(*world);
    char tmpl[] = "/tmp/corral-net-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_.bridge = "corral-t0";
    config_.state_dir = dir_ + "/state";
    config_.run_dir = dir_ + "/run";
    config_.resolv_conf = dir_ + "/host-resolv.conf";
    ASSERT_OK(WriteFileAtomically(config_.resolv_conf, "nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch lan\n"));
    absl::StatusOr<std::unique_ptr<BridgeNetwork>> net = BridgeNetwork::Open(config_);
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = std::move(*net);
    ASSERT_OK(net_->EnsureHost());
  }

  void TearDown() override {
    net_.reset();
    world_.reset();  // back to the real namespace; the test's namespaces go with their fds
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
  }

  UniqueFd NewContainerNetns() {
    absl::StatusOr<UniqueFd> fd = NetWorld::NewNetns();
    EXPECT_TRUE(fd.ok()) << fd.status();
    return fd.ok() ? std::move(*fd) : UniqueFd();
  }

  bool HostLinkExists(const std::string& name) {
    absl::StatusOr<netcfg::Rtnl> rtnl = netcfg::Rtnl::OpenIn(world_->host_netns());
    return rtnl.ok() && rtnl->LinkIndex(name).ok();
  }

  // Waits (up to 10 s) for the kernel to finish removing a link in the background.
  bool WaitHostLinkGone(const std::string& name) {
    for (int i = 0; i < 1000; ++i) {
      if (!HostLinkExists(name)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::string NftList(const std::string& what) {
    absl::StatusOr<std::unique_ptr<netcfg::Nftables>> nft = netcfg::Nftables::Open();
    if (!nft.ok()) return nft.status().ToString();
    absl::StatusOr<std::string> out = (*nft)->Query(absl::StrCat("list ", what, "\n"), "list");
    return out.ok() ? *out : out.status().ToString();
  }

  std::unique_ptr<NetWorld> world_;
  std::string dir_;
  netcfg::NetworkConfig config_;
  std::unique_ptr<BridgeNetwork> net_;
};

TEST_F(BridgeNetworkTest, HostSideIsInPlaceAndEnsureIsIdempotent) {
  ASSERT_OK(net_->EnsureHost());
  absl::StatusOr<netcfg::Rtnl> rtnl = netcfg::Rtnl::Open();
  ASSERT_TRUE(rtnl.ok());
  absl::StatusOr<int> bridge = rtnl->LinkIndex("corral-t0");
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  absl::StatusOr<std::vector<netcfg::Ipv4Interface>> addresses = rtnl->Addresses(*bridge);
  ASSERT_TRUE(addresses.ok());
  ASSERT_EQ(addresses->size(), 1u);  // ensured twice, still one address
  EXPECT_EQ((*addresses)[0].ToString(), "10.77.0.1/16");
  EXPECT_EQ(*ReadFile("/proc/sys/net/ipv4/ip_forward"), "1\n");
  EXPECT_TRUE(*netcfg::NatTableExists());
  std::string table = NftList("table ip corral");
  EXPECT_THAT(table, HasSubstr("ip saddr 10.77.0.0/16 ip daddr != 10.77.0.0/16 masquerade"));
  EXPECT_THAT(table, HasSubstr("iifname \"corral-t0\" accept"));
  // One masquerade rule, however often the table was installed.
  EXPECT_EQ(table.find("masquerade"), table.rfind("masquerade"));
  absl::StatusOr<std::vector<std::string>> warnings = net_->CheckHostFirewall();
  ASSERT_TRUE(warnings.ok());
  EXPECT_TRUE(warnings->empty());
}

TEST_F(BridgeNetworkTest, ReportsAnotherTableThatDropsForwarding) {
  absl::StatusOr<std::unique_ptr<netcfg::Nftables>> nft = netcfg::Nftables::Open();
  ASSERT_TRUE(nft.ok());
  ASSERT_OK((*nft)->Run("add table ip filter\nadd chain ip filter FORWARD { type filter hook forward priority 0 ; "
                        "policy drop ; }\n",
                        "docker-like table"));
  absl::StatusOr<std::vector<std::string>> warnings = net_->CheckHostFirewall();
  ASSERT_TRUE(warnings.ok());
  ASSERT_EQ(warnings->size(), 1u);
  EXPECT_THAT((*warnings)[0], HasSubstr("table ip filter chain FORWARD drops forwarded packets"));
}

TEST_F(BridgeNetworkTest, ContainerReachesTheOutsideThroughMasquerade) {
  UniqueFd netns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> web = net_->Attach("web", "web.example", netns.get(), {});
  ASSERT_TRUE(web.ok()) << web.status();
  EXPECT_EQ(web->address.ToString(), "10.77.0.2/16");
  EXPECT_EQ(web->host_interface, "ve-web");
  EXPECT_TRUE(HostLinkExists("ve-web"));
  EXPECT_FALSE(HostLinkExists("eth0"));  // the peer was made in the container's namespace
  absl::StatusOr<netcfg::Rtnl> inside = netcfg::Rtnl::OpenIn(netns.get());
  ASSERT_TRUE(inside.ok());
  absl::StatusOr<int> eth0 = inside->LinkIndex("eth0");
  ASSERT_TRUE(eth0.ok());
  EXPECT_EQ((*inside->Addresses(*eth0))[0].ToString(), "10.77.0.2/16");

  absl::StatusOr<netcfg::Rtnl> host = netcfg::Rtnl::OpenIn(world_->host_netns());
  ASSERT_TRUE(host.ok()) << host.status();
  absl::StatusOr<netcfg::LinkCounters> before = host->Counters("ve-web");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_TRUE(absl::IsNotFound(host->Counters("ve-nosuch").status()));

  absl::StatusOr<UniqueFd> server = NetWorld::ListenIn(world_->outside_netns(), kOutsideAddress, 9000);
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<UniqueFd> client = NetWorld::ConnectFrom(netns.get(), kOutsideAddress, 9000, "hello");
  ASSERT_TRUE(client.ok()) << client.status();
  std::string payload;
  absl::StatusOr<uint32_t> peer = NetWorld::AcceptPeer(server->get(), &payload);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(FormatIpv4(*peer), FormatIpv4(kHostUplinkAddress)) << "the outside sees the host, not 10.77.0.2";
  EXPECT_EQ(payload, "hello");

  // The host end counts the connection: what the container sent arrives on it (rx), the
  // answers leave through it (tx). At least a SYN, the data and a FIN went each way.
  absl::StatusOr<netcfg::LinkCounters> after = host->Counters("ve-web");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GE(after->rx_packets, before->rx_packets + 3);
  EXPECT_GE(after->rx_bytes, before->rx_bytes + 3 * 40 + 5);
  EXPECT_GE(after->tx_packets, before->tx_packets + 2);
  EXPECT_GT(after->tx_bytes, before->tx_bytes);

  // DNS and hosts files for the container.
  std::string resolv = *ReadFile(web->resolv_conf_path);
  EXPECT_THAT(resolv, HasSubstr("nameserver 192.0.2.53\n"));
  EXPECT_THAT(resolv, ::testing::Not(HasSubstr("127.0.0.53")));
  EXPECT_THAT(*ReadFile(web->hosts_path), HasSubstr("10.77.0.2\tweb.example\n"));
}

TEST_F(BridgeNetworkTest, PortForwardFromOutsideAndFromTheHost) {
  UniqueFd netns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> web = net_->Attach("web", "web", netns.get(), {*ParsePortForward("8080:80")});
  ASSERT_TRUE(web.ok()) << web.status();
  absl::StatusOr<UniqueFd> server = NetWorld::ListenIn(netns.get(), 0, 80);
  ASSERT_TRUE(server.ok()) << server.status();

  // From the outside namespace to the host's uplink address.
  absl::StatusOr<UniqueFd> outside = NetWorld::ConnectFrom(world_->outside_netns(), kHostUplinkAddress, 8080, "o");
  ASSERT_TRUE(outside.ok()) << outside.status();
  absl::StatusOr<uint32_t> peer = NetWorld::AcceptPeer(server->get());
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(FormatIpv4(*peer), FormatIpv4(kOutsideAddress));
  // From the host itself (output hook).
  absl::StatusOr<UniqueFd> local = NetWorld::ConnectFrom(world_->host_netns(), kHostUplinkAddress, 8080, "h");
  ASSERT_TRUE(local.ok()) << local.status();
  ASSERT_TRUE(NetWorld::AcceptPeer(server->get()).ok());

  // After the container stops, the forward is gone.
  ASSERT_OK(net_->Detach("web", {.keep_address = true}));
  EXPECT_THAT(NftList("map ip corral tcp_forwards"), ::testing::Not(HasSubstr("8080")));
  EXPECT_FALSE(NetWorld::ConnectFrom(world_->outside_netns(), kHostUplinkAddress, 8080).ok());
}

TEST_F(BridgeNetworkTest, HostPortInUseIsRefusedAndLeavesNothing) {
  UniqueFd web_netns = NewContainerNetns();
  ASSERT_TRUE(net_->Attach("web", "web", web_netns.get(), {*ParsePortForward("8080:80")}).ok());

  UniqueFd api_netns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> api = net_->Attach("api", "api", api_netns.get(), {*ParsePortForward("8080:81")});
  EXPECT_EQ(api.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(api.status().message(), HasSubstr("tcp/8080 is already forwarded to container \"web\""));

  // A port a host process listens on.
  absl::StatusOr<UniqueFd> squatter = NetWorld::ListenIn(world_->host_netns(), 0, 8081);
  ASSERT_TRUE(squatter.ok());
  api = net_->Attach("api", "api", api_netns.get(), {*ParsePortForward("8081:81")});
  EXPECT_THAT(api.status().message(), HasSubstr("tcp/8081 is in use by a process on the host"));

  // The same host port twice in one request.
  api = net_->Attach("api", "api", api_netns.get(), {*ParsePortForward("9000:1"), *ParsePortForward("9000:2")});
  EXPECT_THAT(api.status().message(), HasSubstr("forwarded twice"));

  // None of it left anything of "api" behind.
  // (The list in a variable: a range-for over *List() would read a destroyed temporary.)
  absl::StatusOr<std::vector<netcfg::Lease>> leases = net_->leases().List();
  ASSERT_TRUE(leases.ok()) << leases.status();
  for (const netcfg::Lease& lease : *leases) EXPECT_NE(lease.container, "api");
  EXPECT_FALSE(HostLinkExists("ve-api"));
  EXPECT_NE(::access((config_.run_dir + "/api").c_str(), F_OK), 0);
  absl::StatusOr<netcfg::Rtnl> inside = netcfg::Rtnl::OpenIn(api_netns.get());
  ASSERT_TRUE(inside.ok());
  EXPECT_FALSE(inside->LinkIndex("eth0").ok());
}

TEST_F(BridgeNetworkTest, TwoContainersReachEachOtherOverTheBridge) {
  UniqueFd a = NewContainerNetns();
  UniqueFd b = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> na = net_->Attach("a", "a", a.get(), {});
  absl::StatusOr<ContainerNetwork> nb = net_->Attach("b", "b", b.get(), {});
  ASSERT_TRUE(na.ok() && nb.ok());
  absl::StatusOr<UniqueFd> server = NetWorld::ListenIn(b.get(), nb->address.address, 7000);
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(NetWorld::ConnectFrom(a.get(), nb->address.address, 7000).ok());
  absl::StatusOr<uint32_t> peer = NetWorld::AcceptPeer(server->get());
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(*peer, na->address.address) << "no NAT between containers on the bridge";
}

TEST_F(BridgeNetworkTest, ConcurrentStartsGetDistinctAddresses) {
  constexpr int kContainers = 20;
  std::vector<UniqueFd> netns(kContainers);
  std::vector<absl::StatusOr<ContainerNetwork>> results(kContainers, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kContainers; ++i) {
    threads.emplace_back([&, i] {
      // Each start has its own BridgeNetwork, as separate corral-run processes would.
      absl::StatusOr<std::unique_ptr<BridgeNetwork>> net = BridgeNetwork::Open(config_);
      absl::StatusOr<UniqueFd> fd = NetWorld::NewNetns();
      if (!net.ok() || !fd.ok()) return;
      netns[i] = std::move(*fd);
      results[i] = (*net)->Attach(absl::StrCat("c", i), "c", netns[i].get(), {});
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<uint32_t> addresses;
  for (int i = 0; i < kContainers; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    addresses.insert(results[i]->address.address);
  }
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kContainers));
  absl::StatusOr<UniqueFd> server = NetWorld::ListenIn(world_->outside_netns(), kOutsideAddress, 9000);
  ASSERT_TRUE(server.ok());
  for (int i = 0; i < kContainers; ++i) {
    ASSERT_TRUE(NetWorld::ConnectFrom(netns[i].get(), kOutsideAddress, 9000).ok()) << i;
    ASSERT_TRUE(NetWorld::AcceptPeer(server->get()).ok()) << i;
  }
}

TEST_F(BridgeNetworkTest, AddressKeptAcrossRestartAndCrashLeftoversCleaned) {
  UniqueFd first = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> run1 = net_->Attach("web", "web", first.get(), {*ParsePortForward("8080:80")});
  ASSERT_TRUE(run1.ok());
  UniqueFd other = NewContainerNetns();
  ASSERT_TRUE(net_->Attach("other", "other", other.get(), {}).ok());
  // "Crash": no Detach, the old namespace (and so the host link) still alive.
  UniqueFd second = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> run2 = net_->Attach("web", "web", second.get(), {*ParsePortForward("8080:80")});
  ASSERT_TRUE(run2.ok()) << run2.status();
  EXPECT_EQ(run2->address.address, run1->address.address);
  absl::StatusOr<UniqueFd> server = NetWorld::ListenIn(second.get(), 0, 80);
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(NetWorld::ConnectFrom(world_->outside_netns(), kHostUplinkAddress, 8080).ok());
  ASSERT_TRUE(NetWorld::AcceptPeer(server->get()).ok());
  // A clean stop keeps the address for the next start.
  ASSERT_OK(net_->Detach("web", {.keep_address = true}));
  second.reset();
  UniqueFd third = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> run3 = net_->Attach("web", "web", third.get(), {});
  ASSERT_TRUE(run3.ok()) << run3.status();
  EXPECT_EQ(run3->address.address, run1->address.address);
}

TEST_F(BridgeNetworkTest, TeardownLeavesNoLinkLeaseRuleOrTable) {
  std::vector<UniqueFd> netns;
  std::vector<std::string> host_links;
  for (int i = 0; i < 3; ++i) {
    netns.push_back(NewContainerNetns());
    absl::StatusOr<ContainerNetwork> n =
        net_->Attach(absl::StrCat("c", i), "c", netns.back().get(), {*ParsePortForward(absl::StrCat(8080 + i, ":80"))});
    ASSERT_TRUE(n.ok()) << n.status();
    host_links.push_back(n->host_interface);
  }
  // c0 is detached while its namespace lives on (delete_link), the others as on a stop:
  // their namespaces go and the kernel removes the pairs in the background.
  ASSERT_OK(net_->Detach("c0", {.delete_link = true}));
  EXPECT_FALSE(HostLinkExists(host_links[0]));
  for (int i = 1; i < 3; ++i) {
    ASSERT_OK(net_->Detach(absl::StrCat("c", i), {}));
    netns[i].reset();
  }
  for (const std::string& link : host_links) EXPECT_TRUE(WaitHostLinkGone(link)) << link;
  EXPECT_TRUE(net_->leases().List()->empty());
  EXPECT_THAT(NftList("map ip corral tcp_forwards"), ::testing::Not(HasSubstr("elements")));
  std::error_code ec;
  EXPECT_TRUE(!std::filesystem::exists(config_.run_dir) || std::filesystem::is_empty(config_.run_dir, ec));
  ASSERT_OK(net_->RemoveHost());
  EXPECT_FALSE(HostLinkExists("corral-t0"));
  EXPECT_FALSE(*netcfg::NatTableExists());
  // Detaching what is already gone is fine (a second stop, a crash cleanup).
  absl::Status again = net_->Detach("c1", {.delete_link = true});
  EXPECT_TRUE(again.ok()) << again;
}

// True when the host's port 8080 reaches a server listening on port 80 in `netns`.
bool ForwardReaches(NetWorld& world, int netns, uint16_t host_port) {
  absl::StatusOr<UniqueFd> server = NetWorld::ListenIn(netns, 0, 80);
  if (!server.ok()) return false;
  absl::StatusOr<UniqueFd> client = NetWorld::ConnectFrom(world.outside_netns(), kHostUplinkAddress, host_port, "x");
  return client.ok() && NetWorld::AcceptPeer(server->get()).ok();
}

TEST_F(BridgeNetworkTest, RemovingAVanishedContainerFreesItsForwardsForTheNext) {
  // "web" ends uncleanly (its supervisor killed): no Detach, its namespace gone, its lease
  // still listing tcp/8080 and the map still sending 8080 to its address.
  UniqueFd web_netns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> web = net_->Attach("web", "web", web_netns.get(), {*ParsePortForward("8080:80")});
  ASSERT_TRUE(web.ok()) << web.status();
  web_netns.reset();
  // And "db" lost track of its forward (its lease no longer lists it, the element is there).
  UniqueFd db_netns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> db = net_->Attach("db", "db", db_netns.get(), {*ParsePortForward("8081:80")});
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(net_->leases().ClearPorts("db").ok());
  db_netns.reset();
  const std::string web_address = FormatIpv4(web->address.address);
  const std::string db_address = FormatIpv4(db->address.address);
  ASSERT_THAT(NftList("map ip corral tcp_forwards"), HasSubstr(web_address));

  // rm of each (corrald's RemoveContainer): lease and every element pointing at it go.
  ASSERT_OK(net_->Detach("web", {.delete_link = true, .find_stray_forwards = true}));
  ASSERT_OK(net_->Detach("db", {.delete_link = true, .find_stray_forwards = true}));
  std::string map = NftList("map ip corral tcp_forwards");
  EXPECT_THAT(map, ::testing::Not(HasSubstr(web_address)));
  EXPECT_THAT(map, ::testing::Not(HasSubstr(db_address)));
  EXPECT_TRUE(net_->leases().List()->empty());

  // The next container gets web's address (freed) and may forward 8080 again; the traffic is
  // its own because it asked for it.
  UniqueFd api_netns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> api = net_->Attach("api", "api", api_netns.get(), {*ParsePortForward("8080:80")});
  ASSERT_TRUE(api.ok()) << api.status();
  EXPECT_EQ(api->address.address, web->address.address);
  EXPECT_TRUE(ForwardReaches(*world_, api_netns.get(), 8080));
  // A container given db's old address without asking for 8081 receives nothing on it.
  UniqueFd quiet_netns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> quiet = net_->Attach("quiet", "quiet", quiet_netns.get(), {});
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  EXPECT_EQ(quiet->address.address, db->address.address);
  EXPECT_FALSE(ForwardReaches(*world_, quiet_netns.get(), 8081));
}

TEST_F(BridgeNetworkTest, ReclaimFreesWhatBelongsToNoLivingContainer) {
  using Fate = BridgeNetwork::LeaseFate;
  // "running" runs; "stopped" ended uncleanly but exists; "gone" is known to nobody, its
  // namespace (and so its veth) still alive; "held" has a live claim; a stray element points
  // at an address no lease has.
  UniqueFd running_ns = NewContainerNetns();
  UniqueFd stopped_ns = NewContainerNetns();
  UniqueFd gone_ns = NewContainerNetns();
  UniqueFd held_ns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> running =
      net_->Attach("running", "r", running_ns.get(), {*ParsePortForward("8080:80")});
  absl::StatusOr<ContainerNetwork> stopped =
      net_->Attach("stopped", "s", stopped_ns.get(), {*ParsePortForward("8081:80")});
  absl::StatusOr<ContainerNetwork> gone = net_->Attach("gone", "g", gone_ns.get(), {*ParsePortForward("8082:80")});
  absl::StatusOr<ContainerNetwork> held = net_->Attach("held", "h", held_ns.get(), {*ParsePortForward("8083:80")});
  ASSERT_TRUE(running.ok() && stopped.ok() && gone.ok() && held.ok());
  absl::StatusOr<UniqueFd> claim = netcfg::ClaimContainerNetwork("held");
  ASSERT_TRUE(claim.ok()) << claim.status();
  stopped_ns.reset();
  absl::StatusOr<std::unique_ptr<netcfg::Nftables>> nft = netcfg::Nftables::Open();
  ASSERT_TRUE(nft.ok());
  ASSERT_OK((*nft)->Run("add element ip corral udp_forwards { 5353 : 10.77.0.200 . 53 }\n", "stray element"));
  ASSERT_OK(MakeDirectories(config_.run_dir + "/leftover"));

  std::vector<std::pair<std::string, bool>> asked;
  absl::StatusOr<BridgeNetwork::Reclaimed> reclaimed = net_->Reclaim(
      [&](const netcfg::Lease& lease, bool claimed) {
        asked.emplace_back(lease.container, claimed);
        if (lease.container == "running" || claimed) return Fate::kKeep;
        return lease.container == "stopped" ? Fate::kKeepAddress : Fate::kFree;
      },
      {});
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.status();
  EXPECT_THAT(asked, ::testing::UnorderedElementsAre(std::pair<std::string, bool>{"running", false},
                                                     std::pair<std::string, bool>{"stopped", false},
                                                     std::pair<std::string, bool>{"gone", false},
                                                     std::pair<std::string, bool>{"held", true}));
  ASSERT_EQ(reclaimed->freed.size(), 1u);
  EXPECT_EQ(reclaimed->freed[0].container, "gone");
  ASSERT_EQ(reclaimed->ports_cleared.size(), 1u);
  EXPECT_EQ(reclaimed->ports_cleared[0].container, "stopped");
  EXPECT_EQ(reclaimed->forwards.size(), 3u);  // stopped's, gone's, the stray one
  EXPECT_THAT(reclaimed->links, ::testing::Contains(gone->host_interface));
  EXPECT_THAT(reclaimed->Describe(), ::testing::Contains("freed the lease of gone (10.77.0.4)"));

  std::string map = NftList("table ip corral");
  EXPECT_THAT(map, HasSubstr("8080 : 10.77.0.2 . 80"));
  EXPECT_THAT(map, HasSubstr("8083 : 10.77.0.5 . 80"));
  EXPECT_THAT(map, ::testing::Not(HasSubstr("8081")));
  EXPECT_THAT(map, ::testing::Not(HasSubstr("8082")));
  EXPECT_THAT(map, ::testing::Not(HasSubstr("5353")));
  EXPECT_FALSE(HostLinkExists(gone->host_interface));
  EXPECT_TRUE(HostLinkExists(running->host_interface));
  EXPECT_TRUE(HostLinkExists(held->host_interface));
  EXPECT_FALSE(std::filesystem::exists(config_.run_dir + "/leftover"));
  EXPECT_FALSE(std::filesystem::exists(config_.run_dir + "/gone"));
  EXPECT_TRUE(std::filesystem::exists(config_.run_dir + "/running"));
  std::map<std::string, netcfg::Lease> leases;
  absl::StatusOr<std::vector<netcfg::Lease>> listed = net_->leases().List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  for (const netcfg::Lease& l : *listed) leases[l.container] = l;
  ASSERT_EQ(leases.size(), 3u);
  EXPECT_TRUE(leases["stopped"].ports.empty());
  EXPECT_EQ(leases["stopped"].address, stopped->address.address);  // a stopped container keeps its address
  EXPECT_EQ(leases["running"].ports.size(), 1u);
  EXPECT_TRUE(ForwardReaches(*world_, running_ns.get(), 8080));  // untouched

  // The freed ports can be forwarded again; a second pass finds nothing more.
  UniqueFd next_ns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> next =
      net_->Attach("next", "n", next_ns.get(), {*ParsePortForward("8081:80"), *ParsePortForward("8082:80")});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(ForwardReaches(*world_, next_ns.get(), 8082));
  absl::StatusOr<BridgeNetwork::Reclaimed> again = net_->Reclaim(
      [](const netcfg::Lease& l, bool) { return l.container == "stopped" ? Fate::kKeepAddress : Fate::kKeep; }, {});
  ASSERT_TRUE(again.ok()) << again.status();
  // (A veth whose namespace went may still be on its way out: links are not compared.)
  EXPECT_TRUE(again->freed.empty() && again->ports_cleared.empty() && again->forwards.empty())
      << absl::StrJoin(again->Describe(), "\n");
}

TEST_F(BridgeNetworkTest, BrokenLeasesFileStopsAllocationAndReclaimChangesNothing) {
  UniqueFd web_ns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> web = net_->Attach("web", "web", web_ns.get(), {*ParsePortForward("8080:80")});
  ASSERT_TRUE(web.ok()) << web.status();
  ASSERT_OK(WriteFileAtomically(config_.state_dir + "/leases", ""));  // emptied
  UniqueFd next_ns = NewContainerNetns();
  absl::StatusOr<ContainerNetwork> next = net_->Attach("next", "next", next_ns.get(), {});
  EXPECT_EQ(next.status().code(), absl::StatusCode::kDataLoss) << next.status();
  EXPECT_THAT(next.status().message(), HasSubstr(config_.state_dir + "/leases"));
  absl::StatusOr<BridgeNetwork::Reclaimed> reclaimed =
      net_->Reclaim([](const netcfg::Lease&, bool) { return BridgeNetwork::LeaseFate::kFree; }, {});
  EXPECT_FALSE(reclaimed.ok());
  // web's forward and veth are untouched: nothing is judged from a file that cannot be read.
  EXPECT_TRUE(ForwardReaches(*world_, web_ns.get(), 8080));
  EXPECT_TRUE(HostLinkExists(web->host_interface));
}

TEST_F(BridgeNetworkTest, TwoHundredContainersAtOnceAllReachTheOutside) {
  constexpr int kContainers = 200;
  std::vector<UniqueFd> netns;
  absl::StatusOr<UniqueFd> server = NetWorld::ListenIn(world_->outside_netns(), kOutsideAddress, 9000);
  ASSERT_TRUE(server.ok());
  std::set<uint32_t> addresses;
  for (int i = 0; i < kContainers; ++i) {
    netns.push_back(NewContainerNetns());
    absl::StatusOr<ContainerNetwork> n = net_->Attach(absl::StrCat("scale-", i), "c", netns.back().get(), {});
    ASSERT_TRUE(n.ok()) << i << ": " << n.status();
    addresses.insert(n->address.address);
  }
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kContainers));
  for (int i = 0; i < kContainers; ++i) {
    absl::StatusOr<UniqueFd> client = NetWorld::ConnectFrom(netns[i].get(), kOutsideAddress, 9000);
    ASSERT_TRUE(client.ok()) << i << ": " << client.status();
    ASSERT_TRUE(NetWorld::AcceptPeer(server->get()).ok()) << i;
  }
}

}  // namespace
}  // namespace corral
