// durability_bench: what the durability fsyncs (config, leases, id allocations: temp file +
// fsync + rename + fsync of the directory, issue 13) cost a create + start through corrald,
// with NAT network. fsync:1 is corrald as installed; fsync:0 the same corrald restarted with
// CORRAL_UNSAFE_NO_FSYNC=1 (common/files.h), which skips every fsync; the difference is their
// cost. Needs /var/lib/corral on a real disk (fsync on tmpfs costs nothing):
// benchmarks/run_durability_bench.sh runs it in the throwaway systemd with /var/lib/corral on a
// directory of the host's disk. Each fsync arm restarts corrald first (outside the timing).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/manager_call.h"
#include "dbus/interface.h"

namespace corral::bench {
namespace {

constexpr char kDropIn[] = "/run/systemd/system/corrald.service.d/durability-bench.conf";

template <typename... Args>
bool Call(const char* method, const char* signature, Args... args) {
  return CallManager("durability_bench", method, signature, args...);
}

// Restarts corrald with or without its fsyncs; true once it answers.
bool RestartCorrald(bool fsync) {
  std::string command =
      fsync ? absl::StrCat("rm -f ", kDropIn)
            : absl::StrCat("mkdir -p /run/systemd/system/corrald.service.d && printf '[Service]\\n",
                           "Environment=CORRAL_UNSAFE_NO_FSYNC=1\\n' > ", kDropIn);
  command += " && systemctl daemon-reload && systemctl restart corrald";
  if (::system(command.c_str()) != 0) return false;
  for (int i = 0; i < 100; ++i) {
    if (Call("ListContainers", "")) return true;
    ::usleep(100 * 1000);
  }
  return false;
}

void BM_CreateStartDurability(benchmark::State& state) {
  static int counter = 0;
  bool fsync = state.range(0) != 0;
  if (!RestartCorrald(fsync)) {
    state.SkipWithError("could not restart corrald");
    return;
  }
  for (auto _ : state) {
    std::string name = absl::StrCat("bench-durable-", counter++);
    if (!Call("CreateContainer", "ssa{sv}", name.c_str(), "busybox", 2, "Command", "as", 3, "sh", "-c",
              "exec sleep 1000", "Network", "s", "bridge") ||
        !Call("StartContainer", "s", name.c_str())) {
      state.SkipWithError("create or start failed");
      break;
    }
    state.PauseTiming();
    Call("StopContainerWithTimeout", "su", name.c_str(), 5u);
    Call("RemoveContainer", "s", name.c_str());
    state.ResumeTiming();
  }
  if (!fsync) RestartCorrald(true);  // corrald as installed again
}
BENCHMARK(BM_CreateStartDurability)->ArgName("fsync")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace corral::bench

BENCHMARK_MAIN();
