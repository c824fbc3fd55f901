// start_bench: start of a container running /bin/true, to exit. The library (with a per-phase
// breakdown), the corral-run binary on the busybox image and on a Debian image
// (CORRAL_BENCH_DEBIAN_ROOTFS, when set: the two should cost the same, the rootfs being a bind
// mount either way), and in the same run the peers: crun run (no cgroups, like corral-run
// without limits) with corral's capabilities and seccomp profile (the same work) and with its
// own minimal one (less), and unshare+chroot (far less work: no pivot_root, /dev, capabilities
// or seccomp).
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "benchmarks/peer_configs.h"
#include "common/files.h"
#include "runtime/container.h"
#include "runtime/phase_timer.h"

namespace corral::bench {
namespace {

// Where a start's time goes: the runtime's own phase marks (prepare: validation and seccomp
// compilation; clone: clone3 into the namespaces; setup and exec: rootfs, /dev, capabilities,
// seccomp, up to the exec), then the command running to its exit. Averages per start, as
// counters.
void BM_LibraryStartPhases(benchmark::State& state) {
  runtime::ContainerSpec spec;
  spec.name = "bench";
  spec.rootfs = ImageRootfs(state.range(0));
  if (spec.rootfs.empty()) {
    state.SkipWithError("no Debian image (CORRAL_BENCH_DEBIAN_ROOTFS)");
    return;
  }
  spec.command = {"/bin/true"};
  std::map<std::string, double> total_ms;
  for (auto _ : state) {
    runtime::PhaseTimer timer;
    runtime::StartOptions options;
    options.timer = &timer;
    auto container = runtime::Container::Start(spec, options);
    int64_t started = runtime::PhaseTimer::NowNs();
    if (!container.ok() || *container->Wait() != 0) {
      state.SkipWithError("start failed");
      return;
    }
    // Numbered in their order ("NN phase ms"), as the report lists them.
    size_t i = 0;
    for (const auto& [phase, ns] : timer.phases()) {
      total_ms[absl::StrCat(absl::Dec(i++, absl::kZeroPad2), " ", runtime::PhaseName(phase), " ms")] += static_cast<double>(ns) / 1e6;
    }
    total_ms[absl::StrCat(absl::Dec(i, absl::kZeroPad2), " run to exit ms")] +=
        static_cast<double>(runtime::PhaseTimer::NowNs() - started) / 1e6;
  }
  for (const auto& [phase, ms] : total_ms) state.counters[phase] = ms / static_cast<double>(state.iterations());
}
BENCHMARK(BM_LibraryStartPhases)->ArgName("debian")->Arg(0)->Arg(1)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_LibraryStartTrue(benchmark::State& state) {
  runtime::ContainerSpec spec;
  spec.name = "bench";
  spec.rootfs = ImageRootfs(state.range(1));
  if (spec.rootfs.empty()) {
    state.SkipWithError("no Debian image (CORRAL_BENCH_DEBIAN_ROOTFS)");
    return;
  }
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
BENCHMARK(BM_LibraryStartTrue)
    ->ArgNames({"netns", "debian"})
    ->Args({1, 0})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond);

std::string CorralRunPath() {
  // Under `bazel run` the binary sits in the runfiles tree; outside, next to us.
  return FindProgram({"tools/corral-run", "bazel-bin/tools/corral-run"});
}

void BM_CorralRunTrue(benchmark::State& state) {
  std::string corral_run = CorralRunPath();
  std::string rootfs = ImageRootfs(state.range(0));
  if (corral_run.empty() || rootfs.empty()) {
    state.SkipWithError(corral_run.empty() ? "corral-run binary not found" : "no Debian image (CORRAL_BENCH_DEBIAN_ROOTFS)");
    return;
  }
  std::vector<std::string> argv = {corral_run, "--rootfs", rootfs, "--net", "none"};
  // The default is an unprivileged container: its own user namespace on an idmapped rootfs.
  if (state.range(1) == 0) argv.push_back("--privileged");
  argv.insert(argv.end(), {"--", "/bin/true"});
  TimeCommand(state, argv, "corral-run");
}
BENCHMARK(BM_CorralRunTrue)
    ->ArgNames({"debian", "userns"})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond);

void BM_PeerUnshareChrootTrue(benchmark::State& state) {
  TimeCommand(state, {"/usr/bin/unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "chroot",
                    BusyboxRootfs(), "/bin/true"}, "unshare");
}
BENCHMARK(BM_PeerUnshareChrootTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerCrunRunTrue(benchmark::State& state) {
  std::string crun = FindProgram({"/usr/bin/crun"});
  if (crun.empty()) {
    state.SkipWithError("crun is not installed (apt-get install crun)");
    return;
  }
  bool same_as_corral = state.range(0) == 1;
  bool userns = state.range(1) == 1;
  // A host range no corral container is given (corral's pool is configured elsewhere); the
  // image is not shifted: crun's root inside sees the files as the overflow uid, which is
  // enough for /bin/true, so crun does less than corral-run's idmapped rootfs here.
  constexpr int64_t kCrunUsernsHostUid = 0x70000000;
  std::string bundle = WriteOciBundle(
      BusyboxRootfs() + (same_as_corral ? "/../crun-corral-profile" : "/../crun-spec-profile") + (userns ? "-userns" : ""),
      BusyboxRootfs(), {"/bin/true"}, same_as_corral, userns ? kCrunUsernsHostUid : -1);
  std::string crun_root = bundle + "/state";
  // --cgroup-manager=disabled: no cgroup, as corral-run without limits (and never at the root
  // of this host's hierarchies).
  TimeCommand(
      state,
      [&](int i) -> std::vector<std::string> {
        return {crun, "--root", crun_root, "--cgroup-manager=disabled", "run", "--bundle", bundle,
                absl::StrCat("bench-", ::getpid(), "-", i)};
      },
      "crun run");
}
BENCHMARK(BM_PeerCrunRunTrue)
    ->ArgNames({"corral_profile", "userns"})
    ->Args({1, 1})
    ->Args({1, 0})
    ->Args({0, 0})
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond);


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
