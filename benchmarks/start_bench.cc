// start_bench: start of a busybox container running /bin/true, to exit. The library, the
// corral-run binary, and in the same run the peers doing the same work: crun run (no cgroups,
// like corral-run without limits) and unshare+chroot (far less work: no pivot_root, /dev,
// capabilities or seccomp).
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "common/files.h"
#include "runtime/container.h"

namespace corral::bench {
namespace {

void BM_LibraryStartTrue(benchmark::State& state) {
  runtime::ContainerSpec spec;
  spec.name = "bench";
  spec.rootfs = BusyboxRootfs();
  spec.command = {"/bin/true"};
  if (state.range(0) == 0) spec.namespaces &= ~static_cast<uint64_t>(CLONE_NEWNET);
  for (auto _ : state) {
    auto container = runtime::Container::Start(spec);
    if (!container.ok() || *container->Wait() != 0) {
      state.SkipWithError("start failed");
      return;
    }
  }
}
BENCHMARK(BM_LibraryStartTrue)->ArgName("netns")->Arg(1)->Arg(0)->Apply(Repeated)->Unit(benchmark::kMillisecond);

std::string CorralRunPath() {
  // Under `bazel run` the binary sits in the runfiles tree; outside, next to us.
  return FindProgram({"tools/corral-run", "bazel-bin/tools/corral-run"});
}

void BM_CorralRunTrue(benchmark::State& state) {
  std::string corral_run = CorralRunPath();
  if (corral_run.empty()) {
    state.SkipWithError("corral-run binary not found");
    return;
  }
  for (auto _ : state) {
    if (RunCommand({corral_run, "--rootfs", BusyboxRootfs(), "--net", "none", "--", "/bin/true"}) != 0) {
      state.SkipWithError("corral-run failed");
      return;
    }
  }
}
BENCHMARK(BM_CorralRunTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerUnshareChrootTrue(benchmark::State& state) {
  for (auto _ : state) {
    if (RunCommand({"/usr/bin/unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "chroot",
                    BusyboxRootfs(), "/bin/true"}) != 0) {
      state.SkipWithError("unshare failed");
      return;
    }
  }
}
BENCHMARK(BM_PeerUnshareChrootTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// A crun bundle for the same rootfs: `crun spec` defaults (all namespaces but user, caps,
// masked paths, seccomp-less default), running /bin/true without a terminal.
std::string CrunBundle() {
  static const std::string* bundle = [] {
    std::string dir = BusyboxRootfs() + "/../crun-bundle";
    MakeDirectories(dir).IgnoreError();
    std::string config = absl::StrCat(R"({
  "ociVersion": "1.0.0",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
    "capabilities": {"bounding": ["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"]},
    "noNewPrivileges": true},
  "root": {"path": ")", BusyboxRootfs(), R"(", "readonly": false},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid","noexec","nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"]}
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    "maskedPaths": ["/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],
    "readonlyPaths": ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]
  }
})");
    WriteFileAtomically(dir + "/config.json", config).IgnoreError();
    return new std::string(dir);
  }();
  return *bundle;
}

void BM_PeerCrunRunTrue(benchmark::State& state) {
  std::string crun = FindProgram({"/usr/bin/crun"});
  if (crun.empty()) {
    state.SkipWithError("crun is not installed (apt-get install crun)");
    return;
  }
  std::string bundle = CrunBundle();
  std::string crun_root = bundle + "/state";
  int i = 0;
  for (auto _ : state) {
    // --cgroup-manager=disabled: no cgroup, as corral-run without limits (and never at the
    // root of this host's hierarchies).
    if (RunCommand({crun, "--root", crun_root, "--cgroup-manager=disabled", "run", "--bundle", bundle,
                    absl::StrCat("bench-", ::getpid(), "-", i++)}) != 0) {
      state.SkipWithError("crun run failed");
      return;
    }
  }
}
BENCHMARK(BM_PeerCrunRunTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// crun refuses to run at all on a cgroup v1+v2 hybrid host ("cgroups in hybrid mode not
// supported"), which is what these machines have. In a private mount namespace of this
// benchmark only, show it a pure cgroup2 /sys/fs/cgroup, as most hosts have. Nothing of the
// host is remounted and no cgroup is created (crun runs with --cgroup-manager=disabled).
void ShowPureCgroup2ToPeers() {
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    ::perror("private mount namespace for the benchmark");
    return;
  }
  if (::access("/sys/fs/cgroup/unified", F_OK) == 0 &&
      ::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    ::perror("mount cgroup2 for crun");
  }
}

}  // namespace
}  // namespace corral::bench

int main(int argc, char** argv) {
  corral::bench::ShowPureCgroup2ToPeers();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
