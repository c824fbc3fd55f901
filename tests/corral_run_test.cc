// corral-run as a user runs it: the whole binary, exit statuses, signals and bad input.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "netcfg/ipam.h"
#include "netcfg/ipv4.h"
#include "netcfg/rtnetlink.h"
#include "tests/container_fixture.h"
#include "tests/net_world.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;


// Every corral-run here runs in a network world of the test's own (tests/net_world.h): the
// default --net bridge builds its bridge, NAT table and leases there and in a temp dir, never
// on the real host.
class CorralRunTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    absl::StatusOr<std::unique_ptr<NetWorld>> world = NetWorld::Create();
    ASSERT_TRUE(world.ok()) << world.status();
    world_ = std::move(*world);
    net_dir_ = temp_dir() + "/net-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    config_path_ = net_dir_ + "/network.conf";
    ASSERT_TRUE(MakeDirectories(net_dir_, 0755).ok());
    ASSERT_TRUE(WriteFileAtomically(net_dir_ + "/host-resolv.conf", "nameserver 192.0.2.53\nsearch example.test\n").ok());
    ASSERT_TRUE(WriteFileAtomically(config_path_, absl::StrCat("bridge = corral-t1\n", "address = 10.99.0.1/24\n",
                                                               "resolv_conf = ", net_dir_, "/host-resolv.conf\n",
                                                               "state_dir = ", net_dir_, "/state\n",
                                                               "run_dir = ", net_dir_, "/run\n"))
                    .ok());
    ::setenv("CORRAL_NETWORK_CONFIG", config_path_.c_str(), 1);
    // The user namespace pool of the test's own, never the host's /var/lib/corral.
    idmap_config_ = net_dir_ + "/idmap.conf";
    ASSERT_TRUE(WriteFileAtomically(idmap_config_, absl::StrCat("range = ", kPoolFirst, " ", 4 * 65536, "\n",
                                                                "state_dir = ", net_dir_, "/idmap\n"))
                    .ok());
    ::setenv("CORRAL_IDMAP_CONFIG", idmap_config_.c_str(), 1);
  }

  void TearDown() override {
    ::unsetenv("CORRAL_NETWORK_CONFIG");
    RestoreIdPool();
    world_.reset();  // the host, outside and container namespaces go with it
    if (!net_dir_.empty()) RemoveTree(net_dir_).IgnoreError();
    ContainerTest::TearDown();
  }

  std::vector<std::string> HostLinks() {
    std::vector<std::string> links;
    absl::StatusOr<netcfg::Rtnl> rtnl = netcfg::Rtnl::OpenIn(world_->host_netns());
    EXPECT_TRUE(rtnl.ok()) << rtnl.status();
    for (const std::string& name : {"ve-web", "ve-api", "ve-a", "ve-b"}) {
      if (rtnl.ok() && rtnl->LinkIndex(name).ok()) links.push_back(name);
    }
    return links;
  }

  // Runs corral-run with `args` (a container serving one connection on its port 80 behind
  // `-p 8080:80`) while the outside connects to the host's uplink address on 8080 until it gets
  // an answer (5 s at most); *status is "EXIT OUTPUT" of the run.
  std::string ServeOnceThroughForward(std::vector<std::string> args, std::string* status) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    std::thread run([&] {
      CliResult r = RunCli(args);
      std::string text = std::to_string(r.exit_status) + " " + r.output;
      (void)!::write(fds[1], text.data(), text.size());
      ::close(fds[1]);
    });
    std::string got;
    for (int attempt = 0; attempt < 100 && got.empty(); ++attempt) {
      absl::StatusOr<UniqueFd> client = NetWorld::ConnectFrom(world_->outside_netns(), kHostUplinkAddress, 8080);
      if (client.ok()) {
        char buffer[64];
        pollfd p{client->get(), POLLIN, 0};
        ssize_t n = ::poll(&p, 1, 2000) == 1 ? ::recv(client->get(), buffer, sizeof(buffer), 0) : -1;
        if (n > 0) got.assign(buffer, n);
      }
      if (got.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    run.join();
    *status = ReadAll(fds[0]);
    ::close(fds[0]);
    return got;
  }

  std::unique_ptr<NetWorld> world_;
  std::string net_dir_;
  std::string config_path_;
  std::string idmap_config_;
  static constexpr uint32_t kPoolFirst = 3000000;
};

TEST_F(CorralRunTest, RunsTheCommandAndPassesItsOutputAndStatus) {
  CliResult r = RunCli({"--rootfs", rootfs(), "--hostname", "cli", "--", "sh", "-c", "echo $$ $(hostname); exit 7"});
  EXPECT_EQ(r.exit_status, 7);
  EXPECT_EQ(r.output, "1 cli\n");
  EXPECT_EQ(RunCli({"--rootfs", rootfs(), "--", "/bin/true"}).exit_status, 0);
}

TEST_F(CorralRunTest, KilledCommandGives128PlusSignal) {
  // Under --init the shell is not PID 1, so it can be killed from inside.
  CliResult r = RunCli({"--rootfs", rootfs(), "--init", "--", "sh", "-c", "kill -9 $$"});
  EXPECT_EQ(r.exit_status, 137) << r.output;
}

TEST_F(CorralRunTest, SignalsToCorralRunReachTheContainer) {
  int output = -1;
  pid_t pid = StartCli({"--rootfs", rootfs(), "--init", "--", "sleep", "100"}, &output);
  ::usleep(300 * 1000);
  ::kill(pid, SIGTERM);
  CliResult r = FinishCli(pid, output);
  EXPECT_EQ(r.exit_status, 128 + SIGTERM) << r.output;
}

TEST_F(CorralRunTest, MissingCommandExits127NamingIt) {
  CliResult r = RunCli({"--rootfs", rootfs(), "--", "no-such-binary"});
  EXPECT_EQ(r.exit_status, 127);
  EXPECT_THAT(r.output, HasSubstr("no-such-binary"));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST_F(CorralRunTest, BadInputIsOneLineAndNonZero) {
  struct Case {
    std::vector<std::string> args;
    const char* expect;
  };
  std::vector<Case> cases = {
      {{"--rootfs", "/nonexistent-corral", "--", "true"}, "does not exist"},
      {{"--rootfs", rootfs() + "/bin/busybox", "--", "true"}, "not a directory"},
      {{"--rootfs", rootfs(), "--hostname", "no_way", "--", "true"}, "invalid hostname"},
      {{"--rootfs", rootfs(), "--frobnicate", "--", "true"}, "unknown option"},
      {{"--", "true"}, "--rootfs is required"},
      {{"--rootfs", rootfs(), "-p", "70000:80", "--", "true"}, "-p: "},
      {{"--rootfs", rootfs(), "-p", "abc", "--", "true"}, "-p: "},
      {{"--rootfs", rootfs(), "-p", "8080:80", "-p", "8080:81", "--", "true"}, "-p: "},
      {{"--rootfs", rootfs(), "--net", "none", "-p", "8080:80", "--", "true"}, "need --net bridge"},
  };
  for (const Case& c : cases) {
    CliResult r = RunCli(c.args);
    EXPECT_EQ(r.exit_status, 125) << c.expect;
    EXPECT_THAT(r.output, HasSubstr(c.expect));
    EXPECT_TRUE(absl::StartsWith(r.output, "corral-run: ")) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST_F(CorralRunTest, NotRootIsRefused) {
  // A copy nobody can reach: Bazel's output tree is private to root.
  std::string copy = temp_dir() + "/corral-run";
  auto binary = ReadFile(kCorralRun);
  ASSERT_TRUE(binary.ok()) << binary.status();
  ASSERT_TRUE(WriteFileAtomically(copy, *binary, 0755).ok());
  ASSERT_EQ(::chmod(copy.c_str(), 0755), 0);
  CliResult r = RunCli({"--rootfs", rootfs(), "--", "true"}, {.as_uid = 65534, .binary = copy.c_str()});
  ::unlink(copy.c_str());
  EXPECT_EQ(r.exit_status, 125);
  EXPECT_THAT(r.output, HasSubstr("must run as root"));
}

TEST_F(CorralRunTest, BridgeGivesEth0AddressRouteResolvConfAndHosts) {
  CliResult r = RunCli({"--rootfs", rootfs(), "--name", "web", "--", "sh", "-c",
                        "ip -4 -o addr show eth0; ip route show default; cat /etc/resolv.conf /etc/hosts; "
                        "cat /sys/class/net/eth0/operstate"});
  EXPECT_EQ(r.exit_status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("inet 10.99.0.2/24"));
  EXPECT_THAT(r.output, HasSubstr("default via 10.99.0.1 dev eth0"));
  EXPECT_THAT(r.output, HasSubstr("nameserver 192.0.2.53"));
  EXPECT_THAT(r.output, HasSubstr("search example.test"));
  EXPECT_THAT(r.output, HasSubstr("10.99.0.2\tweb"));
  EXPECT_THAT(r.output, HasSubstr("up"));
  // Gone after exit: the lease, the files; the veth pair goes with the namespace.
  auto leases = ReadFile(net_dir_ + "/state/leases");
  EXPECT_TRUE(!leases.ok() || leases->find("web") == std::string::npos) << *leases;
  EXPECT_FALSE(std::filesystem::exists(net_dir_ + "/run/web"));
  for (int i = 0; i < 500 && !HostLinks().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(HostLinks().empty());
}

TEST_F(CorralRunTest, NoneAndHostModes) {
  CliResult none = RunCli({"--rootfs", rootfs(), "--net", "none", "--", "sh", "-c", "ls /sys/class/net"});
  EXPECT_EQ(none.exit_status, 0) << none.output;
  EXPECT_EQ(none.output, "lo\n");
  // The host's namespace here is the test's "host", which has lo and the uplink. (Asked over
  // netlink: in its user namespace the container cannot mount a sysfs of a network namespace
  // it does not own, and sees the caller's /sys, which shows the machine's real interfaces.)
  CliResult host = RunCli({"--rootfs", rootfs(), "--net", "host", "--", "sh", "-c", "ip -o link"});
  EXPECT_EQ(host.exit_status, 0) << host.output;
  EXPECT_THAT(host.output, HasSubstr("uplink0"));
}

TEST_F(CorralRunTest, ContainerReachesTheOutsideMasqueradedAsTheHost) {
  absl::StatusOr<UniqueFd> server = NetWorld::ListenIn(world_->outside_netns(), kOutsideAddress, 7000);
  ASSERT_TRUE(server.ok()) << server.status();
  // busybox nc waits for the server to close, so the server side runs while corral-run does.
  CliResult r;
  std::thread run([&] {
    r = RunCli({"--rootfs", rootfs(), "--name", "web", "--", "sh", "-c",
                "echo hello-from-web | nc -w 2 198.51.100.2 7000"});
  });
  std::string payload;
  absl::StatusOr<uint32_t> peer = NetWorld::AcceptPeer(server->get(), &payload);
  run.join();
  EXPECT_EQ(r.exit_status, 0) << r.output;
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(*peer, kHostUplinkAddress);  // the host's uplink address, not 10.99.0.x
  EXPECT_EQ(payload, "hello-from-web\n");
}

TEST_F(CorralRunTest, PortForwardReachesTheContainerFromOutside) {
  // The container serves one connection on port 80; the outside connects to the host's
  // uplink address on 8080.
  std::string status;
  std::string got = ServeOnceThroughForward(
      {"--rootfs", rootfs(), "--name", "api", "-p", "8080:80", "--", "sh", "-c", "echo served-by-api | nc -l -p 80 -w 5"},
      &status);
  EXPECT_EQ(got, "served-by-api\n");
  EXPECT_TRUE(absl::StartsWith(status, "0 ")) << status;
  // The forward is gone with the container.
  EXPECT_FALSE(NetWorld::ConnectFrom(world_->outside_netns(), kHostUplinkAddress, 8080).ok());
}

TEST_F(CorralRunTest, OneNameRunsOnceAndTwoContainersTalk) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  std::thread server([&] {
    CliResult r = RunCli({"--rootfs", rootfs(), "--name", "a", "--", "sh", "-c",
                          "echo from-a | nc -l -p 9000 -w 5"});
    (void)!::write(fds[1], r.output.data(), r.output.size());
    ::close(fds[1]);
  });
  // "a" is up once its lease is there.
  std::string a_address;
  for (int i = 0; i < 200 && a_address.empty(); ++i) {
    absl::StatusOr<std::string> text = ReadFile(net_dir_ + "/state/leases");
    absl::StatusOr<std::vector<netcfg::Lease>> leases =
        text.ok() ? netcfg::ParseLeases(*text) : absl::StatusOr<std::vector<netcfg::Lease>>(text.status());
    if (leases.ok()) {
      for (const netcfg::Lease& lease : *leases) {
        if (lease.container == "a") a_address = netcfg::FormatIpv4(lease.address);
      }
    }
    if (a_address.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (a_address.empty()) {
    server.join();
    FAIL() << "container a never got its lease";
  }
  // While "a" runs, a second "a" is refused and leaves "a" alone.
  CliResult twin = RunCli({"--rootfs", rootfs(), "--name", "a", "--", "true"});
  EXPECT_EQ(twin.exit_status, 125);
  EXPECT_THAT(twin.output, HasSubstr("already running"));
  // "b" reaches "a" over the bridge.
  CliResult b = RunCli({"--rootfs", rootfs(), "--name", "b", "--", "sh", "-c",
                        absl::StrCat("for i in 1 2 3 4 5 6 7 8 9 10; do nc -w 1 ", a_address,
                                     " 9000 </dev/null && exit 0; sleep 0.2; done; exit 1")});
  server.join();
  EXPECT_EQ(b.exit_status, 0) << b.output;
  EXPECT_THAT(b.output, HasSubstr("from-a"));
  ::close(fds[0]);
}

// The pids of `pid`'s children (all its threads').
std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), ec)) {
    absl::StatusOr<std::string> text = ReadFile(task.path().string() + "/children");
    if (!text.ok()) continue;
    for (absl::string_view word : absl::StrSplit(*text, ' ', absl::SkipEmpty())) {
      pid_t child = 0;
      if (absl::SimpleAtoi(word, &child)) children.push_back(child);
    }
  }
  return children;
}

TEST_F(CorralRunTest, KilledRunsLeaseAndForwardAreReclaimedByTheNextRun) {
  // The container of a corral-run killed with SIGKILL outlives it (nothing ties them yet); as
  // a subreaper the test gets it as its child, to end and reap it afterwards.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  pid_t first = ::fork();
  ASSERT_GE(first, 0);
  if (first == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    const char* argv[] = {kCorralRun, "--rootfs", rootfs().c_str(), "-p", "8080:80", "--", "sleep", "100", nullptr};
    ::execv(kCorralRun, const_cast<char**>(argv));
    ::_exit(98);
  }
  ::close(out[1]);
  // Up once its lease lists the forward.
  std::string lease_name;
  for (int i = 0; i < 500 && lease_name.empty(); ++i) {
    absl::StatusOr<std::string> text = ReadFile(net_dir_ + "/state/leases");
    absl::StatusOr<std::vector<netcfg::Lease>> leases =
        text.ok() ? netcfg::ParseLeases(*text) : absl::StatusOr<std::vector<netcfg::Lease>>(text.status());
    if (leases.ok() && !leases->empty() && !(*leases)[0].ports.empty()) lease_name = (*leases)[0].container;
    if (lease_name.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // And once its command runs: a container child killed before its exec still holds
  // corral-run's descriptors (its network claim among them) for a moment.
  std::vector<pid_t> container;  // the container's init, corral-run's child
  bool command_runs = false;
  for (int i = 0; i < 500 && !command_runs; ++i) {
    container = ChildrenOf(first);
    std::vector<pid_t> tree = container;
    for (size_t j = 0; j < tree.size() && !command_runs; ++j) {
      absl::StatusOr<std::string> cmdline = ReadFile(absl::StrCat("/proc/", tree[j], "/cmdline"));
      command_runs = cmdline.ok() && *cmdline == std::string("sleep\0" "100\0", 10);
      for (pid_t grandchild : ChildrenOf(tree[j])) tree.push_back(grandchild);
    }
    if (!command_runs) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);
  ::close(out[0]);
  auto end_container = [&] {
    for (pid_t pid : container) {
      ::kill(pid, SIGKILL);  // its PID namespace's init: the rest goes with it
      ::waitpid(pid, nullptr, 0);
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  };
  if (!command_runs) end_container();
  ASSERT_TRUE(command_runs) << "the first run's command never ran";
  if (lease_name.empty()) end_container();
  ASSERT_FALSE(lease_name.empty()) << "the first run never got its lease";
  // Named by pid, start time and boot, not "run-PID" alone.
  EXPECT_TRUE(absl::StartsWith(lease_name, absl::StrCat("run-", first, "-"))) << lease_name;
  EXPECT_EQ(std::count(lease_name.begin(), lease_name.end(), '-'), 3) << lease_name;

  // The next run may forward 8080 (not "already forwarded to container run-..."), says what it
  // reclaimed, and the traffic reaches it.
  std::string status;
  std::string got = ServeOnceThroughForward(
      {"--rootfs", rootfs(), "-p", "8080:80", "--", "sh", "-c", "echo served-by-second | nc -l -p 80 -w 5"}, &status);
  end_container();
  EXPECT_EQ(got, "served-by-second\n");
  EXPECT_TRUE(absl::StartsWith(status, "0 ")) << status;
  EXPECT_THAT(status, HasSubstr(absl::StrCat("reclaimed: freed the lease of ", lease_name)));
  EXPECT_THAT(status, HasSubstr("reclaimed: deleted the forward tcp/8080 -> 10.99.0.2:80"));
  absl::StatusOr<std::string> leases = ReadFile(net_dir_ + "/state/leases");
  ASSERT_TRUE(leases.ok());
  EXPECT_THAT(*leases, ::testing::Not(HasSubstr("run-"))) << *leases;
}

// Without -t, corral-run run from a terminal (an admin's shell) must not hand that terminal to
// the container, whose processes could change its modes or stay behind reading it: stdin and
// stdout inside are a pty of corral-run's (another device than the caller's), input typed on
// the caller's terminal arrives once (no second echo) with its end, output comes back, and the
// exit status is kept.
TEST_F(CorralRunTest, ACallersTerminalIsRelayedNotHandedOver) {
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(master.valid());
  ASSERT_EQ(::grantpt(master.get()), 0);
  ASSERT_EQ(::unlockpt(master.get()), 0);
  std::string slave_name = ::ptsname(master.get());
  struct stat outer;
  ASSERT_EQ(::stat(slave_name.c_str(), &outer), 0);
  std::string outer_dev = absl::StrFormat("%x:%x", major(outer.st_rdev), minor(outer.st_rdev));
  std::vector<std::string> args = {kCorralRun, "--rootfs", rootfs(), "--net", "none", "--", "sh", "-c",
                                   "stat -L -c %t:%T /proc/self/fd/0 /proc/self/fd/1; read l; echo got:$l; cat; "
                                   "echo eof; stty -echo -icanon; exit 7"};
  pid_t pid = ::fork();
  if (pid == 0) {
    // The admin's shell: a session on the terminal, corral-run in the foreground.
    ::setsid();
    int slave = ::open(slave_name.c_str(), O_RDWR);
    if (slave < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0) ::_exit(96);
    for (int i = 0; i < 3; ++i) ::dup2(slave, i);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(kCorralRun, argv.data());
    ::_exit(98);
  }
  // Typed ahead: the terminal holds it until corral-run reads it.
  const char input[] = "hello\nabc\n\x04";
  ASSERT_EQ(::write(master.get(), input, sizeof(input) - 1), static_cast<ssize_t>(sizeof(input) - 1));
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  bool exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p = {master.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buffer[4096];
      ssize_t n = ::read(master.get(), buffer, sizeof(buffer));
      if (n > 0) out.append(buffer, static_cast<size_t>(n));
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (exited && ::poll(&p, 1, 0) == 0) break;
    if (exited && (p.revents & POLLHUP)) break;
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(exited) << out;
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 7) << out;
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    lines.emplace_back(absl::StripSuffix(line, "\r"));
  }
  // The caller's terminal echoes the two lines; the rest is the container's.
  std::vector<std::string> inner;
  for (const std::string& line : lines) {
    if (line.find(':') != std::string::npos && line != "got:hello") inner.push_back(line);
  }
  ASSERT_EQ(inner.size(), 2u) << out;
  for (const std::string& dev : inner) {
    EXPECT_NE(dev, outer_dev) << "the container holds the caller's terminal: " << out;
    EXPECT_TRUE(absl::StartsWith(dev, "88:")) << dev;  // a pty (major 136 = 0x88)
  }
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "hello"), 1) << out;
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "got:hello"), 1) << out;
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "abc"), 2) << out;  // the echo, then cat's
  EXPECT_EQ(lines.back(), "eof") << out;
  // The container's stty changed its own pty, not the caller's terminal.
  struct termios attrs;
  ASSERT_EQ(::tcgetattr(master.get(), &attrs), 0);
  EXPECT_EQ(attrs.c_lflag & (ECHO | ICANON), static_cast<tcflag_t>(ECHO | ICANON));
}

TEST_F(CorralRunTest, HelpWorks) {
  CliResult r = RunCli({"--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.output, HasSubstr("usage: corral-run --rootfs DIR"));
}

}  // namespace
}  // namespace corral::testing
