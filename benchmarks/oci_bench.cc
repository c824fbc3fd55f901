// corral-oci against crun on the same OCI bundle (busybox, `crun spec`'s profile, no user
// namespace, no cgroup: --cgroup-manager=disabled for crun, no cgroupsPath for corral-oci):
// `run` of /bin/true; create + start + delete of /bin/true (what conmon and the containerd shim
// do for each container); `exec` of /bin/true into a sleeping container. The benchmark process
// is a child subreaper, so the inits both runtimes leave to their caller are reaped here.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "benchmarks/peer_configs.h"
#include "common/files.h"

namespace corral::bench {
namespace {

constexpr char kCorralOci[] = "tools/corral-oci";

// The runtime of `which`: 0 corral-oci, 1 crun; its argv prefix (global flags with --root), or
// empty when it is not there.
std::vector<std::string> Runtime(int64_t which, const std::string& root) {
  if (which == 0) {
    if (::access(kCorralOci, X_OK) != 0) return {};
    return {kCorralOci, "--root", root};
  }
  std::string crun = FindProgram({"/usr/bin/crun"});
  if (crun.empty()) return {};
  return {crun, "--root", root, "--cgroup-manager=disabled"};
}

const char* Name(int64_t which) { return which == 0 ? "corral-oci" : "crun"; }

// One bundle for both runtimes and every case: /bin/true unless `args` says otherwise.
std::string Bundle(const std::string& name, const std::vector<std::string>& args) {
  return WriteOciBundle(BusyboxRootfs() + "/../oci-bench-" + name, BusyboxRootfs(), args, /*same_as_corral=*/false);
}

std::vector<std::string> With(std::vector<std::string> argv, std::initializer_list<std::string> more) {
  argv.insert(argv.end(), more);
  return argv;
}

void BM_OciRunTrue(benchmark::State& state) {
  std::string bundle = Bundle("true", {"/bin/true"});
  std::vector<std::string> rt = Runtime(state.range(0), bundle + "/state-" + Name(state.range(0)));
  if (rt.empty()) return state.SkipWithError(absl::StrCat(Name(state.range(0)), " not found").c_str());
  TimeCommand(
      state, [&](int i) { return With(rt, {"run", "--bundle", bundle, absl::StrCat("run-", ::getpid(), "-", i)}); },
      Name(state.range(0)));
}
BENCHMARK(BM_OciRunTrue)->ArgNames({"crun"})->Arg(0)->Arg(1)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// Reads the pid file `path` and reaps that process (ours as subreaper, or our child).
bool ReapPidFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  pid_t pid;
  if (!text.ok() || !absl::SimpleAtoi(*text, &pid)) return false;
  int status;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

void BM_OciCreateStartDelete(benchmark::State& state) {
  std::string bundle = Bundle("true", {"/bin/true"});
  std::vector<std::string> rt = Runtime(state.range(0), bundle + "/state-csd-" + Name(state.range(0)));
  if (rt.empty()) return state.SkipWithError(absl::StrCat(Name(state.range(0)), " not found").c_str());
  std::string pid_file = bundle + "/pid-" + Name(state.range(0));
  int i = 0;
  for (auto _ : state) {
    std::string id = absl::StrCat("csd-", ::getpid(), "-", i++);
    if (RunCommand(With(rt, {"create", "--bundle", bundle, "--pid-file", pid_file, id})) != 0) {
      return state.SkipWithError(absl::StrCat(Name(state.range(0)), " create failed").c_str());
    }
    if (RunCommand(With(rt, {"start", id})) != 0) {
      return state.SkipWithError(absl::StrCat(Name(state.range(0)), " start failed").c_str());
    }
    // Stopped once /bin/true has exited: reaped here, as conmon would.
    if (!ReapPidFile(pid_file)) return state.SkipWithError("could not reap the container's init");
    if (RunCommand(With(rt, {"delete", id})) != 0) {
      return state.SkipWithError(absl::StrCat(Name(state.range(0)), " delete failed").c_str());
    }
  }
}
BENCHMARK(BM_OciCreateStartDelete)->ArgNames({"crun"})->Arg(0)->Arg(1)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_OciExecTrue(benchmark::State& state) {
  std::string bundle = Bundle("sleep", {"/bin/sleep", "100000"});
  std::vector<std::string> rt = Runtime(state.range(0), bundle + "/state-exec-" + Name(state.range(0)));
  if (rt.empty()) return state.SkipWithError(absl::StrCat(Name(state.range(0)), " not found").c_str());
  std::string id = absl::StrCat("sleeper-", ::getpid(), "-", state.range(0));
  std::string pid_file = bundle + "/pid-exec-" + Name(state.range(0));
  if (RunCommand(With(rt, {"create", "--bundle", bundle, "--pid-file", pid_file, id})) != 0 ||
      RunCommand(With(rt, {"start", id})) != 0) {
    RunCommand(With(rt, {"delete", "--force", id}));
    return state.SkipWithError(absl::StrCat(Name(state.range(0)), " could not start the sleeping container").c_str());
  }
  TimeCommand(state, With(rt, {"exec", id, "/bin/true"}), Name(state.range(0)));
  RunCommand(With(rt, {"delete", "--force", id}));
  ReapPidFile(pid_file);
}
BENCHMARK(BM_OciExecTrue)->ArgNames({"crun"})->Arg(0)->Arg(1)->Apply(Repeated)->Unit(benchmark::kMillisecond);


}  // namespace
}  // namespace corral::bench

int main(int argc, char** argv) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  corral::bench::ShowPureCgroup2ToPeers();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
