// netstart_bench: one container's network bring-up and teardown on a NAT'd bridge that is
// already up. corral's in-process netlink and nftables (netcfg::BridgeNetwork) against, in the
// same run, what people use today for the same result:
//   - the iproute2 command sequence (one `ip` process per step, as in LXC's and most scripts),
//   - the same steps through `ip -batch` (one process on the host side, one in the netns),
//   - the CNI bridge plugin (bridge + host-local IPAM + ipMasq) invoked directly, as
//     containerd and podman invoke it.
// Bring-up: veth with eth0 in the container's namespace, on the bridge, addresses, lo and eth0
// up, default route (corral also writes the lease, resolv.conf and hosts). Teardown is what
// the stop path costs its caller: corral removes lease, forwards and files and lets the kernel
// remove the pair with the namespace; iproute2 deletes the host end; CNI runs DEL.
//
// The whole process runs in network and mount namespaces of its own (made in main before any
// benchmark), so the bridges, NAT tables, iptables chains and named namespaces live and die
// there and the real host's network is never touched. Run as root:
//   bazel build -c opt //benchmarks:netstart_bench && bazel-bin/benchmarks/netstart_bench
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "netcfg/config.h"
#include "netcfg/network.h"
#include "netcfg/ports.h"

namespace corral::bench {
namespace {

constexpr char kNetnsDir[] = "/run/netns";  // a tmpfs of the benchmark's own mount namespace
constexpr int kIterations = 50;

void Die(const std::string& what) {
  ::fprintf(stderr, "netstart_bench: %s\n", what.c_str());
  ::exit(1);
}

// The benchmark's scratch directory (leases, CNI state, batch files), made in main.
std::string& ScratchDir() {
  static std::string* dir = new std::string();
  return *dir;
}

// A named network namespace, as `ip netns add` makes it (a bind mount of the nsfs file under
// /run/netns), so iproute2, CNI and corral can all be pointed at the same kind of thing.
void AddNamedNetns(const std::string& name) {
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  std::string path = absl::StrCat(kNetnsDir, "/", name);
  UniqueFd file(::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0444));
  if (!home.valid() || !file.valid() || ::unshare(CLONE_NEWNET) != 0 ||
      ::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    Die(absl::StrCat("make netns ", name));
  }
  if (::setns(home.get(), CLONE_NEWNET) != 0) Die("return to the benchmark's namespace");
}

// Drops the name; the namespace goes when nothing else holds it (the kernel cleans up in the
// background, for every peer alike).
void DeleteNamedNetns(const std::string& name) {
  std::string path = absl::StrCat(kNetnsDir, "/", name);
  ::umount2(path.c_str(), MNT_DETACH);
  ::unlink(path.c_str());
}

// fork + exec with extra environment and stdin from a file; output discarded.
int RunWithInput(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 const std::string& stdin_path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open(stdin_path.c_str(), O_RDONLY);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(in, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Address N of a /16 whose first two octets are `prefix`, skipping .0 and the gateway .1.
std::string HostAddress(const std::string& prefix, int n) {
  return absl::StrCat(prefix, ".", (n + 2) / 250, ".", (n + 2) % 250 + 2);
}

// ---- corral ----

netcfg::BridgeNetwork& CorralNetwork() {
  static netcfg::BridgeNetwork* network = [] {
    netcfg::NetworkConfig config;
    config.bridge = "corral-b0";
    config.state_dir = ScratchDir() + "/corral-state";
    config.run_dir = ScratchDir() + "/corral-run";
    config.resolv_conf = ScratchDir() + "/resolv.conf";
    WriteFileAtomically(config.resolv_conf, "nameserver 192.0.2.53\n").IgnoreError();
    auto opened = netcfg::BridgeNetwork::Open(config);
    if (!opened.ok()) Die(opened.status().ToString());
    if (absl::Status up = (*opened)->EnsureHost(); !up.ok()) Die(up.ToString());
    return opened->release();
  }();
  return *network;
}

absl::Status CorralUp(const std::string& container, const std::string& netns, int ports) {
  UniqueFd fd(::open(absl::StrCat(kNetnsDir, "/", netns).c_str(), O_RDONLY | O_CLOEXEC));
  std::vector<netcfg::PortForward> forwards;
  for (int i = 0; i < ports; ++i) forwards.push_back({netcfg::Protocol::kTcp, static_cast<uint16_t>(20000 + i), 80});
  return CorralNetwork().Attach(container, container, fd.get(), forwards).status();
}

absl::Status CorralDown(const std::string& container) { return CorralNetwork().Detach(container, {}); }

// ---- iproute2 ----

constexpr char kIp[] = "/usr/sbin/ip";
constexpr char kIpBridge[] = "ip-b0";

void SetUpIproute2Bridge() {
  // The same host side corral has: bridge, gateway address, masquerade for the subnet.
  std::string nat = ScratchDir() + "/ip-nat.nft";
  WriteFileAtomically(nat,
                      "table ip ipbench {\n chain postrouting { type nat hook postrouting priority srcnat;\n"
                      "  ip saddr 10.78.0.0/16 ip daddr != 10.78.0.0/16 masquerade\n }\n}\n")
      .IgnoreError();
  if (RunCommand({kIp, "link", "add", kIpBridge, "type", "bridge"}) != 0 ||
      RunCommand({kIp, "addr", "add", "10.78.0.1/16", "dev", kIpBridge}) != 0 ||
      RunCommand({kIp, "link", "set", kIpBridge, "up"}) != 0 || RunCommand({"/usr/sbin/nft", "-f", nat}) != 0) {
    Die("set up the iproute2 bridge");
  }
}

int Iproute2Up(const std::string& veth, const std::string& netns, const std::string& address) {
  const std::vector<std::vector<std::string>> steps = {
      {kIp, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns},
      {kIp, "link", "set", veth, "master", kIpBridge},
      {kIp, "link", "set", veth, "up"},
      {kIp, "-n", netns, "link", "set", "lo", "up"},
      {kIp, "-n", netns, "link", "set", "eth0", "up"},
      {kIp, "-n", netns, "addr", "add", address + "/16", "dev", "eth0"},
      {kIp, "-n", netns, "route", "add", "default", "via", "10.78.0.1"},
  };
  for (const auto& step : steps) {
    if (int rc = RunCommand(step); rc != 0) return rc;
  }
  return 0;
}

// Two batch files: the host's side, then the namespace's side (`ip -n NS -batch`).
int IpBatchUp(const std::string& veth, const std::string& netns, const std::string& address) {
  std::string host = absl::StrCat(ScratchDir(), "/", veth, ".host");
  std::string inside = absl::StrCat(ScratchDir(), "/", veth, ".ns");
  if (int rc = RunCommand({kIp, "-batch", host}); rc != 0) return rc;
  return RunCommand({kIp, "-n", netns, "-batch", inside});
}

void WriteBatchFiles(const std::string& veth, const std::string& netns, const std::string& address) {
  WriteFileAtomically(absl::StrCat(ScratchDir(), "/", veth, ".host"),
                      absl::StrCat("link add ", veth, " type veth peer name eth0 netns ", netns, "\n",
                                   "link set ", veth, " master ", kIpBridge, " up\n"))
      .IgnoreError();
  WriteFileAtomically(absl::StrCat(ScratchDir(), "/", veth, ".ns"),
                      absl::StrCat("link set lo up\nlink set eth0 up\naddr add ", address,
                                   "/16 dev eth0\nroute add default via 10.78.0.1\n"))
      .IgnoreError();
  WriteFileAtomically(absl::StrCat(ScratchDir(), "/", veth, ".del"), absl::StrCat("link del ", veth, "\n"))
      .IgnoreError();
}

void RemoveBatchFiles(const std::string& veth) {
  for (const char* suffix : {".host", ".ns", ".del"}) ::unlink(absl::StrCat(ScratchDir(), "/", veth, suffix).c_str());
}

enum IpStyle { kSequence = 0, kBatch = 1 };

int IpUp(IpStyle style, const std::string& veth, const std::string& netns, const std::string& address) {
  return style == kSequence ? Iproute2Up(veth, netns, address) : IpBatchUp(veth, netns, address);
}

int IpDown(IpStyle style, const std::string& veth) {
  if (style == kSequence) return RunCommand({kIp, "link", "del", veth});
  return RunCommand({kIp, "-batch", absl::StrCat(ScratchDir(), "/", veth, ".del")});
}

// ---- CNI ----

constexpr char kCniBridge[] = "/usr/lib/cni/bridge";

std::string CniConfig() {
  static std::string* path = [] {
    auto* p = new std::string(ScratchDir() + "/cni.json");
    WriteFileAtomically(*p, absl::StrCat(R"({"cniVersion": "1.0.0", "name": "benchnet", "type": "bridge",
 "bridge": "cni-b0", "isGateway": true, "ipMasq": true,
 "ipam": {"type": "host-local", "subnet": "10.79.0.0/16", "dataDir": ")",
                                         ScratchDir(), R"(/cni-ipam"}})"))
        .IgnoreError();
    return p;
  }();
  return *path;
}

int Cni(const char* command, const std::string& container, const std::string& netns) {
  return RunWithInput({kCniBridge},
                      {absl::StrCat("CNI_COMMAND=", command), absl::StrCat("CNI_CONTAINERID=", container),
                       absl::StrCat("CNI_NETNS=", kNetnsDir, "/", netns), "CNI_IFNAME=eth0",
                       "CNI_PATH=/usr/lib/cni", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
                      CniConfig());
}

// ---- the measurement ----

enum class Measure { kUp, kDown };

// One container per iteration, in a fresh named netns: everything is done for each, and only
// the bring-up or only the teardown is timed. The callbacks get the iteration's number.
struct Peer {
  std::function<bool(int n)> up;
  std::function<bool(int n)> down;
  std::function<void(int n)> prepare = [](int) {};
  std::function<void(int n)> cleanup = [](int) {};
};

void UpDownLoop(benchmark::State& state, Measure measure, const char* prefix, const Peer& peer) {
  static int counter = 0;
  for (auto _ : state) {
    state.PauseTiming();
    int n = counter++;
    AddNamedNetns(absl::StrCat(prefix, n));
    peer.prepare(n);
    if (measure == Measure::kUp) state.ResumeTiming();
    bool up = peer.up(n);
    if (measure == Measure::kUp) state.PauseTiming();
    if (!up) {
      state.SkipWithError("bring-up failed");
      break;
    }
    if (measure == Measure::kDown) state.ResumeTiming();
    bool down = peer.down(n);
    if (measure == Measure::kDown) state.PauseTiming();
    peer.cleanup(n);
    DeleteNamedNetns(absl::StrCat(prefix, n));
    state.ResumeTiming();
    if (!down) {
      state.SkipWithError("teardown failed");
      break;
    }
  }
}

Peer CorralPeer(int ports) {
  return {[ports](int n) { return CorralUp(absl::StrCat("c", n), absl::StrCat("c", n), ports).ok(); },
          [](int n) { return CorralDown(absl::StrCat("c", n)).ok(); }};
}

Peer Iproute2Peer(IpStyle style) {
  auto veth = [style](int n) { return absl::StrCat("v", style, "-", n); };
  auto netns = [](int n) { return absl::StrCat("i", n); };
  return {[=](int n) { return IpUp(style, veth(n), netns(n), HostAddress("10.78", n)) == 0; },
          [=](int n) { return IpDown(style, veth(n)) == 0; },
          [=](int n) { WriteBatchFiles(veth(n), netns(n), HostAddress("10.78", n)); },
          [=](int n) { RemoveBatchFiles(veth(n)); }};
}

Peer CniPeer() {
  return {[](int n) { return Cni("ADD", absl::StrCat("k", n), absl::StrCat("k", n)) == 0; },
          [](int n) { return Cni("DEL", absl::StrCat("k", n), absl::StrCat("k", n)) == 0; }};
}

void BM_CorralUp(benchmark::State& state) { UpDownLoop(state, Measure::kUp, "c", CorralPeer(state.range(0))); }
void BM_CorralDown(benchmark::State& state) { UpDownLoop(state, Measure::kDown, "c", CorralPeer(state.range(0))); }
void BM_Iproute2Up(benchmark::State& state) {
  UpDownLoop(state, Measure::kUp, "i", Iproute2Peer(static_cast<IpStyle>(state.range(0))));
}
void BM_Iproute2Down(benchmark::State& state) {
  UpDownLoop(state, Measure::kDown, "i", Iproute2Peer(static_cast<IpStyle>(state.range(0))));
}
bool HaveCni(benchmark::State& state) {
  if (::access(kCniBridge, X_OK) == 0) return true;
  state.SkipWithError("containernetworking-plugins is not installed (tools/deps.sh installs it)");
  return false;
}
void BM_CniBridgeUp(benchmark::State& state) {
  if (HaveCni(state)) UpDownLoop(state, Measure::kUp, "k", CniPeer());
}
void BM_CniBridgeDown(benchmark::State& state) {
  if (HaveCni(state)) UpDownLoop(state, Measure::kDown, "k", CniPeer());
}

// Peers and corral alternate in registration order; every one does the same number of
// containers, repeated for medians.
void Configure(benchmark::internal::Benchmark* b) {
  b->Iterations(kIterations)->Apply(Repeated)->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_CorralUp)->ArgName("ports")->Arg(0)->Arg(1)->Apply(Configure);
BENCHMARK(BM_Iproute2Up)->ArgName("batch")->Arg(kSequence)->Arg(kBatch)->Apply(Configure);
BENCHMARK(BM_CniBridgeUp)->Apply(Configure);
BENCHMARK(BM_CorralDown)->ArgName("ports")->Arg(0)->Arg(1)->Apply(Configure);
BENCHMARK(BM_Iproute2Down)->ArgName("batch")->Arg(kSequence)->Arg(kBatch)->Apply(Configure);
BENCHMARK(BM_CniBridgeDown)->Apply(Configure);

// Moves the process into network and mount namespaces of its own with a private /run/netns.
void EnterPrivateWorld() {
  if (::geteuid() != 0) Die("must run as root (network namespaces, netlink, nftables)");
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) Die("unshare(CLONE_NEWNET | CLONE_NEWNS)");
  // Only this namespace's view: nothing mounted below propagates to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) Die("make / private");
  ::mkdir(kNetnsDir, 0755);
  if (::mount("tmpfs", kNetnsDir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") != 0) {
    Die("mount a tmpfs on /run/netns");
  }
  char tmpl[] = "/tmp/corral-netstart-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp");
  ScratchDir() = tmpl;
  RunCommand({kIp, "link", "set", "lo", "up"});
  SetUpIproute2Bridge();
  CorralNetwork();
}

}  // namespace
}  // namespace corral::bench

int main(int argc, char** argv) {
  corral::bench::EnterPrivateWorld();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // The namespaces, and with them every bridge, link, table and chain, go when this process
  // exits; the scratch directory is removed here.
  corral::RemoveTree(corral::bench::ScratchDir()).IgnoreError();
  return 0;
}
