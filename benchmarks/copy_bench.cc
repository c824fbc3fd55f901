// Part of dbus_bench (it needs corrald: benchmarks/run_dbus_bench.sh). Issue 14: `corralctl cp`
// of a 100 MiB file into and out of a running container, against `tar -C SRC -c . | tar -C DST
// -x` of the same file between two host directories on the same file system (the container's
// upper layer lives under /var/lib/corral too), in the same run; the must-reach is cp within
// 1.5x of the tar pipe (medians).
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"

namespace corral::bench {
namespace {

constexpr char kCpContainer[] = "bench-cp";
constexpr char kCpDir[] = "/var/lib/corral/bench-cp";  // src/f (100 MiB of random bytes), dst/

std::string Corralctl() {
  return FindProgram({"/usr/local/bin/corralctl", "tools/corralctl", "bazel-bin/tools/corralctl"});
}

void CleanUpCp() {
  std::string ctl = Corralctl();
  RunCommand({ctl, "stop", kCpContainer, "--timeout", "1"});
  RunCommand({ctl, "rm", kCpContainer});
  RunCommand({"/bin/rm", "-rf", kCpDir});
}

// The data and a running busybox container holding /root/f already (for the copy out), once.
bool CpReady() {
  static const bool ready = [] {
    std::string ctl = Corralctl();
    if (ctl.empty()) return false;
    CleanUpCp();
    std::string src = absl::StrCat(kCpDir, "/src"), dst = absl::StrCat(kCpDir, "/dst");
    bool ok = RunCommand({"/bin/mkdir", "-p", src, dst}) == 0 &&
              RunCommand({"/bin/sh", "-c", absl::StrCat("head -c 104857600 /dev/urandom > ", src, "/f")}) == 0 &&
              RunCommand({ctl, "create", kCpContainer, "--image", "busybox", "--net", "none", "--", "sleep", "100000"}) == 0 &&
              RunCommand({ctl, "start", kCpContainer}) == 0 &&
              RunCommand({ctl, "cp", src + "/f", absl::StrCat(kCpContainer, ":/root/f")}) == 0;
    std::atexit(CleanUpCp);
    return ok;
  }();
  return ready;
}

void BM_CorralctlCp100MiB(benchmark::State& state) {
  if (!CpReady()) {
    state.SkipWithError("no corralctl, or the container or the data could not be made");
    return;
  }
  const bool into = state.range(0) == 1;
  std::string inside = absl::StrCat(kCpContainer, ":/root/f");
  std::string host = into ? absl::StrCat(kCpDir, "/src/f") : absl::StrCat(kCpDir, "/dst/f");
  std::vector<std::string> argv = {Corralctl(), "cp", "--quiet"};
  if (into) {
    argv.insert(argv.end(), {host, inside});
  } else {
    argv.insert(argv.end(), {inside, host});
  }
  TimeCommand(state, argv, "corralctl cp");
}
BENCHMARK(BM_CorralctlCp100MiB)->ArgName("into")->Arg(1)->Arg(0)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerTarPipe100MiB(benchmark::State& state) {
  if (!CpReady()) {
    state.SkipWithError("no corralctl, or the data could not be made");
    return;
  }
  TimeCommand(state,
              {"/bin/sh", "-c", absl::StrCat("tar -C ", kCpDir, "/src -c . | tar -C ", kCpDir, "/dst -x")},
              "tar | tar");
}
BENCHMARK(BM_PeerTarPipe100MiB)->Apply(Repeated)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace corral::bench
