// attach_bench: entering a running container. setns through the pidfd (one call for every
// namespace) against setns through /proc/PID/ns files, and a full attach + exec of /bin/true
// against `nsenter -t PID -a /bin/true` on the same container, in the same run: on busybox and
// on the Debian image (CORRAL_BENCH_DEBIAN_ROOTFS, when set).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "runtime/attach.h"
#include "runtime/container.h"

namespace corral::bench {
namespace {

constexpr int kAllNs = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWPID;

// One container per image (0 busybox, 1 Debian) sleeping for the whole benchmark run; nullptr
// when that image is missing.
runtime::Container* SleepingContainer(int64_t image = 0) {
  static runtime::Container* containers[2] = {nullptr, nullptr};
  static bool tried[2] = {false, false};
  if (tried[image]) return containers[image];
  tried[image] = true;
  runtime::ContainerSpec spec;
  spec.name = "attach-bench";
  spec.rootfs = ImageRootfs(image);
  if (spec.rootfs.empty()) return nullptr;
  spec.command = {"/bin/sleep", "100000"};
  auto started = runtime::Container::Start(spec);
  if (!started.ok()) ::abort();
  containers[image] = new runtime::Container(std::move(*started));
  // Kill and reap them when the benchmark exits: nothing may outlive the run.
  static bool reaper = ::atexit([] {
    for (runtime::Container* c : containers) {
      if (c == nullptr) continue;
      c->Signal(SIGKILL).IgnoreError();
      c->Wait().IgnoreError();
    }
  }) == 0;
  (void)reaper;
  return containers[image];
}

void WaitChild(pid_t pid) {
  int status;
  ::waitpid(pid, &status, 0);
}

void BM_SetnsViaPidfd(benchmark::State& state) {
  int pidfd = SleepingContainer()->pidfd();
  for (auto _ : state) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(::setns(pidfd, kAllNs) == 0 ? 0 : 1);
    WaitChild(pid);
  }
}
BENCHMARK(BM_SetnsViaPidfd)->Apply(Repeated)->Unit(benchmark::kMicrosecond);

void BM_SetnsViaProcFiles(benchmark::State& state) {
  pid_t target = SleepingContainer()->pid();
  for (auto _ : state) {
    pid_t pid = ::fork();
    if (pid == 0) {
      for (const char* ns : {"mnt", "uts", "ipc", "net", "cgroup", "pid"}) {
        std::string path = absl::StrCat("/proc/", target, "/ns/", ns);
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::setns(fd, 0) != 0) ::_exit(1);
        ::close(fd);
      }
      ::_exit(0);
    }
    WaitChild(pid);
  }
}
BENCHMARK(BM_SetnsViaProcFiles)->Apply(Repeated)->Unit(benchmark::kMicrosecond);

void BM_AttachExecTrue(benchmark::State& state) {
  runtime::Container* container = SleepingContainer(state.range(0));
  if (container == nullptr) {
    state.SkipWithError("no Debian image (CORRAL_BENCH_DEBIAN_ROOTFS)");
    return;
  }
  runtime::AttachSpec spec;
  spec.command = {"/bin/true"};
  spec.seccomp_program = &runtime::DefaultSeccompProgram();
  for (auto _ : state) {
    auto process = runtime::Attach(container->pidfd(), spec);
    if (!process.ok() || *runtime::WaitAttached(*process) != 0) {
      state.SkipWithError("attach failed");
      return;
    }
  }
}
BENCHMARK(BM_AttachExecTrue)->ArgName("debian")->Arg(0)->Arg(1)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerNsenterAllTrue(benchmark::State& state) {
  runtime::Container* container = SleepingContainer(state.range(0));
  if (container == nullptr) {
    state.SkipWithError("no Debian image (CORRAL_BENCH_DEBIAN_ROOTFS)");
    return;
  }
  std::string pid = absl::StrCat(container->pid());
  for (auto _ : state) {
    if (RunCommand({"/usr/bin/nsenter", "-t", pid, "-a", "/bin/true"}) != 0) {
      state.SkipWithError("nsenter failed");
      return;
    }
  }
}
BENCHMARK(BM_PeerNsenterAllTrue)->ArgName("debian")->Arg(0)->Arg(1)->Apply(Repeated)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace corral::bench

BENCHMARK_MAIN();
