// clone_bench: the cost of a process with each set of namespaces (clone + exit + wait), and
// fork+exec of /bin/true as the floor every container start pays.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "runtime/clone.h"

namespace corral::bench {
namespace {

void BM_ForkExecTrue(benchmark::State& state) {
  for (auto _ : state) {
    if (RunCommand({"/bin/true"}) != 0) state.SkipWithError("/bin/true failed");
  }
}
BENCHMARK(BM_ForkExecTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void CloneAndWait(benchmark::State& state, uint64_t flags, bool exec_true) {
  for (auto _ : state) {
    auto cloned = runtime::CloneWithPidfd(flags);
    if (!cloned.ok()) {
      state.SkipWithError(std::string(cloned.status().message()).c_str());
      return;
    }
    if (cloned->pid == 0) {
      if (exec_true) {
        char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
        ::execv(argv[0], argv);
      }
      ::_exit(0);
    }
    siginfo_t info;
    ::waitid(P_PIDFD, cloned->pidfd.get(), &info, WEXITED);
  }
}

constexpr uint64_t kAll = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;

void BM_Clone(benchmark::State& state) { CloneAndWait(state, static_cast<uint64_t>(state.range(0)), false); }
BENCHMARK(BM_Clone)
    ->ArgName("flags")
    ->Arg(0)
    ->Arg(CLONE_NEWPID)
    ->Arg(CLONE_NEWNS)
    ->Arg(CLONE_NEWUTS)
    ->Arg(CLONE_NEWIPC)
    ->Arg(CLONE_NEWNET)
    ->Arg(CLONE_NEWCGROUP)
    ->Arg(kAll)
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond);

// The floor for a container start: every namespace, then exec /bin/true.
void BM_CloneAllNamespacesExecTrue(benchmark::State& state) { CloneAndWait(state, kAll, true); }
BENCHMARK(BM_CloneAllNamespacesExecTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace corral::bench

BENCHMARK_MAIN();
