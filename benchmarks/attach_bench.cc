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

void WaitChild(pid_t pid) {
  int status;
  ::waitpid(pid, &status, 0);
}

void BM_SetnsViaPidfd(benchmark::State& state) {
  runtime::Container* container = SleepingContainer(0);
  if (container == nullptr) {
    state.SkipWithError("the busybox container did not start");
    return;
  }
  int pidfd = container->pidfd();
  for (auto _ : state) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(::setns(pidfd, kAllNs) == 0 ? 0 : 1);
    WaitChild(pid);
  }
}
BENCHMARK(BM_SetnsViaPidfd)->Apply(Repeated)->Unit(benchmark::kMicrosecond);

void BM_SetnsViaProcFiles(benchmark::State& state) {
  runtime::Container* container = SleepingContainer(0);
  if (container == nullptr) {
    state.SkipWithError("the busybox container did not start");
    return;
  }
  pid_t target = container->pid();
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
    state.SkipWithError("no container: no Debian image (CORRAL_BENCH_DEBIAN_ROOTFS) or it did not start");
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
    state.SkipWithError("no container: no Debian image (CORRAL_BENCH_DEBIAN_ROOTFS) or it did not start");
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
