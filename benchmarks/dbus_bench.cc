// dbus_bench: corrald end to end, as its users call it, against the peers in the same run.
//   - create + start to running through D-Bus (busybox or Debian, with NAT network or none,
//     scope, machined registration) with corrald's per-phase breakdown, and stop to gone;
//     against `systemd-nspawn --register=yes --network-veth` running /bin/true on the same
//     rootfs (start to exit, its whole life); corral-run with NAT network, busybox and Debian;
//   - `corralctl exec NAME -- /bin/true` (the whole client process) against
//     `nsenter -t LEADER -a /bin/true` on the same container.
//   - Debian with systemd booting to READY=1 against systemd-nspawn -b; N containers at once.
// Needs a running systemd, system bus, machined and an installed corral; tests/system and
// benchmarks/run_dbus_bench.sh run it inside the throwaway systemd (tools/sandbox/sandbox.sh).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "benchmarks/manager_call.h"
#include "benchmarks/proc_memory.h"
#include "dbus/interface.h"

namespace corral::bench {
namespace {

constexpr char kExecContainer[] = "bench-exec";

template <typename... Args>
bool Call(const char* method, const char* signature, Args... args) {
  return CallManager("dbus_bench", method, signature, args...);
}

// A connection to corrald's private socket, as root's corralctl uses (no dbus-daemon between,
// and none of its per-connection limits, such as 128 pending replies). nullptr if absent.
sd_bus* DirectBus() {
  static sd_bus* bus = [] {
    Call("ListContainers", "");  // activates corrald through the system bus first
    sd_bus* b = nullptr;
    sd_bus_new(&b);
    sd_bus_set_address(b, "unix:path=/run/corral/private");
    sd_bus_negotiate_fds(b, 1);
    if (sd_bus_start(b) < 0) {
      sd_bus_unref(b);
      return static_cast<sd_bus*>(nullptr);
    }
    return b;
  }();
  return bus;
}

bool CreateBusybox(const std::string& name, const char* command) {
  return Call("CreateContainer", "ssa{sv}", name.c_str(), "busybox", 1, "Command", "as", 3, "sh", "-c", command);
}

// State of a container, "" when the call fails.
std::string State(const std::string& name) {
  char* path = nullptr;
  sd_bus_path_encode(dbus::kContainerPathPrefix, name.c_str(), &path);
  char* state = nullptr;
  sd_bus_get_property_string(Bus(), dbus::kBusName, path, dbus::kContainerInterface, "State", nullptr, &state);
  std::string result = state ? state : "";
  free(state);
  free(path);
  return result;
}

void StopAndRemove(const std::string& name) {
  Call("StopContainerWithTimeout", "su", name.c_str(), 5u);
  Call("RemoveContainer", "s", name.c_str());
}

// The Debian image's rootfs, or "" after marking the benchmark skipped.
std::string DebianRootfs(benchmark::State& state) {
  const char* rootfs = ::getenv("CORRAL_BENCH_DEBIAN_ROOTFS");
  if (rootfs != nullptr && ::access(rootfs, F_OK) == 0) return rootfs;
  state.SkipWithError("set CORRAL_BENCH_DEBIAN_ROOTFS to a Debian image with systemd");
  return "";
}

// The StartPhases property of `name` (phase, microseconds), empty when the call fails.
std::vector<std::pair<std::string, uint64_t>> StartPhases(const std::string& name) {
  std::vector<std::pair<std::string, uint64_t>> phases;
  char* path = nullptr;
  sd_bus_path_encode(dbus::kContainerPathPrefix, name.c_str(), &path);
  sd_bus_message* reply = nullptr;
  if (sd_bus_get_property(Bus(), dbus::kBusName, path, dbus::kContainerInterface, "StartPhases", nullptr, &reply,
                          "a(st)") >= 0 &&
      sd_bus_message_enter_container(reply, 'a', "(st)") >= 0) {
    const char* phase = nullptr;
    uint64_t us = 0;
    while (sd_bus_message_read(reply, "(st)", &phase, &us) > 0) phases.emplace_back(phase, us);
  }
  sd_bus_message_unref(reply);
  free(path);
  return phases;
}

// Create + start to running: busybox or the Debian image (CORRAL_BENCH_DEBIAN_ROOTFS, a plain
// command, no boot), with NAT network or none. Counters: where the starts' time went, as
// corrald reports it (StartPhases), averaged, numbered in their order ("NN phase ms").
void BM_DbusCreateStartToRunning(benchmark::State& state) {
  static int counter = 0;
  std::string image = "busybox";
  if (state.range(0) == 1 && (image = DebianRootfs(state)).empty()) return;
  const char* network = state.range(1) == 1 ? "bridge" : "none";
  std::map<std::string, double> phase_ms;
  for (auto _ : state) {
    std::string name = absl::StrCat("bench-start-", counter++);
    if (!Call("CreateContainer", "ssa{sv}", name.c_str(), image.c_str(), 2, "Command", "as", 3, "sh", "-c",
              "exec sleep 1000", "Network", "s", network) ||
        !Call("StartContainer", "s", name.c_str())) {
      state.SkipWithError("create or start failed");
      break;
    }
    state.PauseTiming();
    std::vector<std::pair<std::string, uint64_t>> phases = StartPhases(name);
    for (size_t i = 0; i < phases.size(); ++i) {
      phase_ms[absl::StrCat(absl::Dec(i, absl::kZeroPad2), " ", phases[i].first, " ms")] +=
          static_cast<double>(phases[i].second) / 1000;
    }
    StopAndRemove(name);
    state.ResumeTiming();
  }
  for (const auto& [phase, ms] : phase_ms) state.counters[phase] = ms / static_cast<double>(state.iterations());
}
BENCHMARK(BM_DbusCreateStartToRunning)
    ->ArgNames({"debian", "net"})
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Args({1, 0})
    ->Iterations(20)
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond);

// corral-run (no daemon, no scope) with NAT network, busybox or Debian, start to exit of
// /bin/true: what the network adds to a start, in the sandbox's own network namespace.
void BM_CorralRunBridgeTrue(benchmark::State& state) {
  std::string rootfs = "/var/lib/corral/images/busybox/rootfs";
  if (state.range(0) == 1 && (rootfs = DebianRootfs(state)).empty()) return;
  std::string corral_run = FindProgram({"/usr/local/bin/corral-run", "/usr/bin/corral-run"});
  if (corral_run.empty()) {
    state.SkipWithError("corral-run is not installed");
    return;
  }
  TimeCommand(state, {corral_run, "--rootfs", rootfs, "--net", "bridge", "--", "/bin/true"}, "corral-run --net bridge");
}
BENCHMARK(BM_CorralRunBridgeTrue)->ArgName("debian")->Arg(0)->Arg(1)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_DbusStopToGone(benchmark::State& state) {
  static int counter = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string name = absl::StrCat("bench-stop-", counter++);
    if (!CreateBusybox(name, "exec sleep 1000") || !Call("StartContainer", "s", name.c_str())) {
      Call("RemoveContainer", "s", name.c_str());
      state.SkipWithError("create or start failed");
      break;
    }
    state.ResumeTiming();
    // The tiny init passes SIGTERM to sleep, which dies of it; the reply comes when the
    // supervisor has cleaned up and exited.
    if (!Call("StopContainer", "s", name.c_str())) {
      state.SkipWithError("stop failed");
      break;
    }
    state.PauseTiming();
    Call("RemoveContainer", "s", name.c_str());
    state.ResumeTiming();
  }
}
BENCHMARK(BM_DbusStopToGone)->Iterations(20)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// systemd-nspawn registering with machined, running /bin/true in its own network namespace:
// with a veth pair to the host (veth:1, against corral's NAT network) or with only loopback
// (veth:0, --private-network, against corral without network); with userns:1 in a user
// namespace of its own on an idmapped image (-U --private-users-ownership=map), as corral's
// unprivileged containers run.
void BM_PeerNspawnRegisterTrue(benchmark::State& state) {
  std::string nspawn = FindProgram({"/usr/bin/systemd-nspawn"});
  std::string rootfs = "/var/lib/corral/images/busybox/rootfs";
  if (nspawn.empty() || ::access(rootfs.c_str(), F_OK) != 0) {
    state.SkipWithError("systemd-nspawn or the busybox image is missing");
    return;
  }
  const char* network = state.range(0) == 1 ? "--network-veth" : "--private-network";
  static int counter = 0;
  for (auto _ : state) {
    std::string name = absl::StrCat("nspawn-bench-", counter++);
    std::vector<std::string> argv = {nspawn, "-q", "--register=yes", network, "-M", name, "-D", rootfs};
    if (state.range(1) == 1) argv.insert(argv.end(), {"-U", "--private-users-ownership=map"});
    argv.push_back("/bin/true");
    if (RunCommand(argv) != 0) {
      state.SkipWithError("systemd-nspawn failed");
      break;
    }
  }
}
BENCHMARK(BM_PeerNspawnRegisterTrue)
    ->ArgNames({"veth", "userns"})
    ->Args({1, 1})
    ->Args({1, 0})
    ->Args({0, 0})
    ->Iterations(20)
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond);

// Whether the exec benchmarks made their container (main removes it at the end).
bool& ExecContainerMade() {
  static bool made = false;
  return made;
}

// Boot to ready of the Debian image with systemd (CORRAL_BENCH_DEBIAN_ROOTFS; see
// run_dbus_bench.sh): corral's create + start until its systemd says READY=1 (the Ready
// property), against systemd-nspawn -b of the same tree until it says READY=1 too
// (--notify-ready=yes under a notify-type transient service), both with a tmpfs overlay over
// the image and machined registration.
bool Ready(const std::string& name) {
  char* path = nullptr;
  sd_bus_path_encode(dbus::kContainerPathPrefix, name.c_str(), &path);
  sd_bus_message* reply = nullptr;
  int ready = 0;
  if (sd_bus_get_property(Bus(), dbus::kBusName, path, dbus::kContainerInterface, "Ready", nullptr, &reply, "b") >= 0) {
    sd_bus_message_read(reply, "b", &ready);
  }
  sd_bus_message_unref(reply);
  free(path);
  return ready;
}

// Waits (up to 30 s) for the Ready property, woken by PropertiesChanged rather than polling:
// polling would take CPU from the boot it measures on this 2-core machine.
bool WaitReady(const std::string& name) {
  char* path = nullptr;
  sd_bus_path_encode(dbus::kContainerPathPrefix, name.c_str(), &path);
  bool changed = false;
  sd_bus_slot* slot = nullptr;
  sd_bus_match_signal(
      Bus(), &slot, dbus::kBusName, path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
      [](sd_bus_message*, void* flag, sd_bus_error*) -> int {
        *static_cast<bool*>(flag) = true;
        return 0;
      },
      &changed);
  free(path);
  bool ready = Ready(name);
  for (int i = 0; i < 300 && !ready; ++i) {
    while (sd_bus_process(Bus(), nullptr) > 0) {
    }
    if (changed) {
      changed = false;
      ready = Ready(name);
      continue;
    }
    sd_bus_wait(Bus(), 100000);
  }
  sd_bus_slot_unref(slot);
  return ready;
}

void BM_DebianBootToReady(benchmark::State& state) {
  std::string rootfs = DebianRootfs(state);
  if (rootfs.empty()) return;
  static int counter = 0;
  for (auto _ : state) {
    std::string name = absl::StrCat("bench-boot-", counter++);
    if (!Call("CreateContainer", "ssa{sv}", name.c_str(), rootfs.c_str(), 1, "Boot", "b", 1) ||
        !Call("StartContainer", "s", name.c_str())) {
      state.SkipWithError("create or start failed");
      break;
    }
    bool ready = WaitReady(name);
    state.PauseTiming();
    Call("StopContainerWithTimeout", "su", name.c_str(), 20u);
    Call("RemoveContainer", "s", name.c_str());
    if (!ready) {
      state.SkipWithError("the container's systemd never said READY=1");
      break;  // timing stays paused: resuming after an error aborts Google Benchmark
    }
    state.ResumeTiming();
  }
}
BENCHMARK(BM_DebianBootToReady)->Iterations(5)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerNspawnBootToReady(benchmark::State& state) {
  std::string rootfs = DebianRootfs(state);
  if (rootfs.empty()) return;
  static int counter = 0;
  for (auto _ : state) {
    std::string unit = absl::StrCat("nspawn-boot-", counter++);
    int rc = RunCommand({"/usr/bin/systemd-run", "--quiet", "--service-type=notify", "-p", "NotifyAccess=all",
                         absl::StrCat("--unit=", unit), "--", "/usr/bin/systemd-nspawn", "--notify-ready=yes", "-q",
                         "-b", "--volatile=overlay", "-M", unit, "-D", rootfs});
    state.PauseTiming();
    RunCommand({"/usr/bin/systemctl", "stop", unit});
    state.ResumeTiming();
    if (rc != 0) {
      state.SkipWithError("systemd-nspawn -b did not come up");
      break;
    }
  }
}
BENCHMARK(BM_PeerNspawnBootToReady)->Iterations(5)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// Scale: N busybox containers with network started at once through D-Bus (every StartContainer
// sent before any reply is awaited), starts per second, then the memory corrald and each
// supervisor cost, then all stopped and removed. RssAnon counts every anonymous page a process
// maps, also those a forked supervisor still shares copy-on-write with corrald (more of them the
// bigger corrald's heap was at the fork); "private" (smaps_rollup Private_Clean + Private_Dirty)
// counts only the pages no other process maps, what each more container really costs
// (benchmarks/proc_memory.h).
void BM_ScaleStartAtOnce(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  sd_bus* direct = DirectBus();
  if (direct == nullptr) {
    state.SkipWithError("corrald's private socket is not there");
    return;
  }
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i) {
      names.push_back(absl::StrCat("scale-", i));
      if (!CreateBusybox(names.back(), "exec sleep 100000")) {
        for (const std::string& created : names) Call("RemoveContainer", "s", created.c_str());
        state.SkipWithError("create failed");
        return;
      }
    }
    // sd-bus's default 25 s per call is a client's patience, not what is measured here: the last
    // of a thousand starts queued at once may wait longer on a loaded machine.
    uint64_t default_timeout = 0;
    sd_bus_get_method_call_timeout(direct, &default_timeout);
    sd_bus_set_method_call_timeout(direct, std::max<uint64_t>(default_timeout, count * 200000ULL));
    state.ResumeTiming();
    int pending = count, failed = 0;
    struct Tally {
      int* pending;
      int* failed;
    } tally{&pending, &failed};
    for (const std::string& name : names) {
      sd_bus_call_method_async(
          direct, nullptr, dbus::kBusName, dbus::kManagerPath, dbus::kManagerInterface, "StartContainer",
          [](sd_bus_message* reply, void* data, sd_bus_error*) -> int {
            auto* t = static_cast<Tally*>(data);
            --*t->pending;
            if (sd_bus_message_is_method_error(reply, nullptr) && ++*t->failed == 1) {
              ::fprintf(stderr, "dbus_bench: StartContainer: %s\n", sd_bus_message_get_error(reply)->message);
            }
            return 0;
          },
          &tally, "s", name.c_str());
    }
    while (pending > 0) {
      if (sd_bus_process(direct, nullptr) == 0) sd_bus_wait(direct, 1000000);
    }
    state.PauseTiming();
    sd_bus_set_method_call_timeout(direct, default_timeout);
    std::vector<pid_t> corrald = ProcessesNamed("corrald");
    // The supervisors, from the state files (their container's tiny init, forked from them, has
    // their name too).
    std::vector<pid_t> supervisors;
    for (const std::string& name : names) {
      FILE* f = ::fopen(absl::StrCat("/run/corral/containers/", name, "/state").c_str(), "r");
      int pid = 0;
      if (f != nullptr && ::fscanf(f, "supervisor=%d", &pid) == 1) supervisors.push_back(pid);
      if (f != nullptr) ::fclose(f);
    }
    uint64_t supervisor_kib = 0, supervisor_private_kib = 0;
    for (pid_t pid : supervisors) {
      supervisor_kib += RssAnonKib(pid);
      supervisor_private_kib += PrivateKib(pid);
    }
    state.counters["running"] = static_cast<double>(supervisors.size());
    state.counters["corrald_rss_anon_kib"] = corrald.empty() ? 0 : static_cast<double>(RssAnonKib(corrald[0]));
    state.counters["supervisor_rss_anon_kib"] =
        supervisors.empty() ? 0 : static_cast<double>(supervisor_kib) / static_cast<double>(supervisors.size());
    state.counters["supervisor_private_kib"] =
        supervisors.empty() ? 0 : static_cast<double>(supervisor_private_kib) / static_cast<double>(supervisors.size());
    for (const std::string& name : names) StopAndRemove(name);
    if (failed > 0) {
      state.SkipWithError(absl::StrCat(failed, " starts failed").c_str());
      return;
    }
    state.ResumeTiming();
  }
  state.counters["starts_per_s"] = benchmark::Counter(static_cast<double>(count) * state.iterations(),
                                                      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScaleStartAtOnce)->Arg(200)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// The exec benchmarks share one running container.
pid_t ExecLeader() {
  static pid_t leader = [] {
    ExecContainerMade() = true;
    Call("StopContainerWithTimeout", "su", kExecContainer, 1u);
    Call("RemoveContainer", "s", kExecContainer);
    if (!CreateBusybox(kExecContainer, "exec sleep 100000") || !Call("StartContainer", "s", kExecContainer)) return 0;
    uint32_t pid = 0;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    std::string path = absl::StrCat(dbus::kContainerPathPrefix, "/bench_2dexec");
    if (sd_bus_get_property(Bus(), dbus::kBusName, path.c_str(), dbus::kContainerInterface, "Leader", &error, &reply,
                            "u") >= 0) {
      sd_bus_message_read(reply, "u", &pid);
    }
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
    return static_cast<pid_t>(pid);
  }();
  return leader;
}

// Logging costs the container nothing it can notice (issue 15): a container writing 100 MiB of
// lines to its stdout, which is its console (relayed by the supervisor to the ring buffer and
// to journald, rate-limited), against the same container writing them to /dev/null. Start to
// stopped, polled every millisecond; the speed ratio is null's time over the console's.
void BM_ContainerStdout100MiB(benchmark::State& state) {
  static int counter = 0;
  const bool to_console = state.range(0) == 1;
  std::string command = absl::StrCat(
      "yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 104857600",
      to_console ? "" : " > /dev/null");
  for (auto _ : state) {
    std::string name = absl::StrCat("bench-flood-", counter++);
    state.PauseTiming();
    if (!Call("CreateContainer", "ssa{sv}", name.c_str(), "busybox", 2, "Command", "as", 3, "sh", "-c",
              command.c_str(), "Network", "s", "none")) {
      state.SkipWithError("create failed");
      break;
    }
    state.ResumeTiming();
    if (!Call("StartContainer", "s", name.c_str())) {
      state.SkipWithError("start failed");
      break;
    }
    while (State(name) != "stopped") ::usleep(1000);
    state.PauseTiming();
    Call("RemoveContainer", "s", name.c_str());
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ContainerStdout100MiB)
    ->ArgName("console")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(3)
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// `corralctl stats --json` of 200 running containers (issue 15: within 3x) against a shell loop
// that only cats each one's memory, CPU and pids files (cgroup2, or a hybrid host's v1
// hierarchies), in the same run. The 200 containers start once, for both, and stay until exit.
constexpr int kStatsContainers = 200;

bool StatsContainersUp() {
  static const bool up = [] {
    for (int i = 0; i < kStatsContainers; ++i) {
      std::string name = absl::StrCat("bench-stats-", i);
      Call("StopContainerWithTimeout", "su", name.c_str(), 1u);
      Call("RemoveContainer", "s", name.c_str());
      if (!Call("CreateContainer", "ssa{sv}", name.c_str(), "busybox", 2, "Command", "as", 3, "sh", "-c",
                "exec sleep 100000", "Network", "s", "none") ||
          !Call("StartContainer", "s", name.c_str())) {
        return false;
      }
    }
    std::atexit([] {
      for (int i = 0; i < kStatsContainers; ++i) StopAndRemove(absl::StrCat("bench-stats-", i));
    });
    return true;
  }();
  return up;
}

void BM_CorralctlStatsJson200(benchmark::State& state) {
  std::string corralctl = FindProgram({"/usr/local/bin/corralctl", "tools/corralctl", "bazel-bin/tools/corralctl"});
  if (corralctl.empty() || !StatsContainersUp()) {
    state.SkipWithError("no corralctl or the containers did not start");
    return;
  }
  TimeCommand(state, {"/bin/sh", "-c", corralctl + " stats --json > /dev/null"}, "corralctl stats --json");
}
BENCHMARK(BM_CorralctlStatsJson200)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerCatCgroupFiles200(benchmark::State& state) {
  if (!StatsContainersUp()) {
    state.SkipWithError("the containers did not start");
    return;
  }
  const char* loop =
      "for i in $(seq 0 199); do u=machine.slice/corral-bench-stats-$i.scope; "
      "if [ -e /sys/fs/cgroup/$u/memory.current ]; then "
      "cat /sys/fs/cgroup/$u/memory.current /sys/fs/cgroup/$u/cpu.stat /sys/fs/cgroup/$u/pids.current; "
      "else cat /sys/fs/cgroup/memory/$u/memory.usage_in_bytes /sys/fs/cgroup/unified/$u/cpu.stat "
      "/sys/fs/cgroup/pids/$u/pids.current; fi; done > /dev/null";
  TimeCommand(state, {"/bin/sh", "-c", loop}, "shell loop of cat");
}
BENCHMARK(BM_PeerCatCgroupFiles200)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_CorralctlExecTrue(benchmark::State& state) {
  std::string corralctl = FindProgram({"/usr/local/bin/corralctl", "tools/corralctl", "bazel-bin/tools/corralctl"});
  if (ExecLeader() == 0 || corralctl.empty()) {
    state.SkipWithError("no container or no corralctl");
    return;
  }
  TimeCommand(state, {corralctl, "exec", kExecContainer, "--", "/bin/true"}, "corralctl exec");
}
BENCHMARK(BM_CorralctlExecTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// The same exec from inside this process, over corrald's private socket as corralctl uses it
// for root: what the call and the attach cost without a client process starting.
void BM_ExecCallInProcess(benchmark::State& state) {
  if (ExecLeader() == 0) {
    state.SkipWithError("no container");
    return;
  }
  sd_bus* direct = DirectBus();
  if (direct == nullptr) {
    state.SkipWithError("corrald's private socket is not there");
    return;
  }
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (auto _ : state) {
    sd_bus_message* reply = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r = sd_bus_call_method(direct, dbus::kBusName, dbus::kManagerPath, dbus::kManagerInterface, "Exec", &error,
                               &reply, "sasa{sv}hhh", kExecContainer, 1, "/bin/true", 0, null, null, null);
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
    if (r < 0) {
      state.SkipWithError("Exec failed");
      break;
    }
  }
  ::close(null);
}
BENCHMARK(BM_ExecCallInProcess)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerNsenterAllTrue(benchmark::State& state) {
  if (ExecLeader() == 0) {
    state.SkipWithError("no container");
    return;
  }
  std::string leader = absl::StrCat(ExecLeader());
  TimeCommand(state, {"/usr/bin/nsenter", "-t", leader, "-a", "/bin/true"}, "nsenter");
}
BENCHMARK(BM_PeerNsenterAllTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace corral::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (corral::bench::ExecContainerMade()) corral::bench::StopAndRemove(corral::bench::kExecContainer);
  return 0;
}
