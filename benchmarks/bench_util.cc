#include "benchmarks/bench_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "tools/images/busybox_image.h"

namespace corral::bench {

namespace {
std::string* temp_dir = nullptr;
void RemoveTempDir() {
  if (temp_dir != nullptr) RemoveTree(*temp_dir).IgnoreError();
}
}  // namespace

void TimeCommand(benchmark::State& state, const std::function<std::vector<std::string>(int)>& argv_for,
                 const char* what) {
  int i = 0;
  for (auto _ : state) {
    int status = RunCommand(argv_for(i++));
    if (status != 0) {
      state.SkipWithError(absl::StrCat(what, " failed (exit status ", status, ")").c_str());
      return;
    }
  }
}

void TimeCommand(benchmark::State& state, const std::vector<std::string>& argv, const char* what) {
  TimeCommand(state, [&argv](int) { return argv; }, what);
}

runtime::Container* SleepingContainer(int64_t which) {
  static runtime::Container* containers[2] = {nullptr, nullptr};
  static bool tried[2] = {false, false};
  if (which < 0 || which > 1) return nullptr;
  if (tried[which]) return containers[which];
  tried[which] = true;
  runtime::ContainerSpec spec;
  spec.name = "bench-sleeper";
  spec.rootfs = ImageRootfs(which);
  if (spec.rootfs.empty()) return nullptr;
  spec.command = {"/bin/sleep", "100000"};
  absl::StatusOr<runtime::Container> started = runtime::Container::Start(spec);
  if (!started.ok()) {
    ::fprintf(stderr, "bench: sleeping container: %s\n", std::string(started.status().message()).c_str());
    return nullptr;
  }
  containers[which] = new runtime::Container(std::move(*started));
  // Kill and reap them when the benchmark exits: nothing may outlive the run.
  static bool reaper = ::atexit([] {
    for (runtime::Container* c : containers) {
      if (c == nullptr) continue;
      c->Signal(SIGKILL).IgnoreError();
      c->Wait().IgnoreError();
    }
  }) == 0;
  (void)reaper;
  return containers[which];
}

std::string ImageRootfs(int64_t which) {
  if (which == 0) return BusyboxRootfs();
  const char* debian = ::getenv("CORRAL_BENCH_DEBIAN_ROOTFS");
  return debian != nullptr && ::access(debian, F_OK) == 0 ? debian : "";
}

const std::string& BusyboxRootfs() {
  static const std::string* rootfs = [] {
    // $TMPDIR when set: in the test sandbox /tmp is an overlay, which cannot be idmapped, and
    // corral-run's rootfs is an idmapped bind by default.
    const char* tmpdir = ::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp", "/corral-bench.XXXXXX");
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    char* tmpl = buffer.data();
    if (::mkdtemp(tmpl) == nullptr) ::abort();
    ::chmod(tmpl, 0755);
    temp_dir = new std::string(tmpl);
    ::atexit(RemoveTempDir);
    auto built = images::BuildBusyboxImage(tmpl);
    if (!built.ok()) {
      ::fprintf(stderr, "cannot build busybox rootfs: %s\n", std::string(built.status().message()).c_str());
      ::abort();
    }
    // The store makes each image root's alone (0700); an unprivileged container's root, and
    // crun's with a user namespace, must pass through it to the rootfs: searchable, not listable.
    std::string image_dir = built->substr(0, built->rfind('/'));
    ::chmod(image_dir.c_str(), 0711);
    return new std::string(*built);
  }();
  return *rootfs;
}

int RunCommand(const std::vector<std::string>& argv, bool quiet) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (quiet) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string FindProgram(const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

double P90(const std::vector<double>& values) {
  if (values.empty()) return 0;
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  size_t rank = (sorted.size() * 9 + 9) / 10;  // ceil(0.9 n), 1-based
  return sorted[rank - 1];
}

void Repeated(benchmark::internal::Benchmark* b) {
  b->Repetitions(kRepetitions)->ReportAggregatesOnly(true)->ComputeStatistics("p90", P90);
}

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

}  // namespace corral::bench
