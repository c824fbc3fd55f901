// Helpers shared by corral's benchmarks: a busybox rootfs in a temp dir and running a command
// as a child process (for the peers: crun, unshare, nsenter, corral-run itself).
#ifndef CORRAL_BENCHMARKS_BENCH_UTIL_H_
#define CORRAL_BENCHMARKS_BENCH_UTIL_H_

#include <cstdint>
#include <functional>
#include <string>

#include <vector>

#include "benchmark/benchmark.h"
#include "runtime/container.h"

namespace corral::bench {

// Builds (once per process) a busybox rootfs in a temp dir that is removed at exit.
const std::string& BusyboxRootfs();

// The rootfs of image `which`: 0 the busybox one above, 1 the Debian image named by
// CORRAL_BENCH_DEBIAN_ROOTFS (benchmarks/peers/run.sh builds one), or "" when there is none.
std::string ImageRootfs(int64_t which);

// A container of image `which` (as ImageRootfs) running `sleep` for the whole benchmark run,
// started at the first call and killed and reaped at exit; nullptr (with the reason on
// stderr) when there is no such image or it does not start.
runtime::Container* SleepingContainer(int64_t which);

// fork + execv + wait; stdout/stderr to /dev/null unless `quiet` is false. Returns the exit status.
int RunCommand(const std::vector<std::string>& argv, bool quiet = true);

// Times running a command to its exit once per iteration: `argv`, or `argv_for(i)` for the
// i-th run (0, 1, ...: peers that want a new container name each time). A run that does not
// exit 0 marks the benchmark failed with `what`.
void TimeCommand(benchmark::State& state, const std::vector<std::string>& argv, const char* what);
void TimeCommand(benchmark::State& state, const std::function<std::vector<std::string>(int)>& argv_for,
                 const char* what);

// The first of `candidates` that exists and is executable, or "".
std::string FindProgram(const std::vector<std::string>& candidates);

// Registers default repetitions so every benchmark reports mean, median and stddev.
inline constexpr int kRepetitions = 5;

// The 90th percentile of the repetitions' times (nearest rank).
double P90(const std::vector<double>& values);

// What every comparison uses: kRepetitions repetitions, aggregates only (mean, median,
// stddev, cv, p90), so the peer report (benchmarks/peers) reads medians and p90s.
void Repeated(benchmark::internal::Benchmark* b);

// crun refuses to run at all on a cgroup v1+v2 hybrid host ("cgroups in hybrid mode not
// supported"), which is what these machines have. In a private mount namespace of the calling
// benchmark only, /sys/fs/cgroup becomes a pure cgroup2 mount, as most hosts have. Nothing of
// the host is remounted and no cgroup is created (the peers run without a cgroup manager).
void ShowPureCgroup2ToPeers();

}  // namespace corral::bench

#endif  // CORRAL_BENCHMARKS_BENCH_UTIL_H_
