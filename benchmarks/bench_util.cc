#include "benchmarks/bench_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "common/files.h"
#include "tools/images/busybox_image.h"

namespace corral::bench {

namespace {
std::string* temp_dir = nullptr;
void RemoveTempDir() {
  if (temp_dir != nullptr) RemoveTree(*temp_dir).IgnoreError();
}
}  // namespace

const std::string& BusyboxRootfs() {
  static const std::string* rootfs = [] {
    char tmpl[] = "/tmp/corral-bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) ::abort();
    ::chmod(tmpl, 0755);
    temp_dir = new std::string(tmpl);
    ::atexit(RemoveTempDir);
    auto built = images::BuildBusyboxImage(tmpl);
    if (!built.ok()) {
      ::fprintf(stderr, "cannot build busybox rootfs: %s\n", std::string(built.status().message()).c_str());
      ::abort();
    }
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

}  // namespace corral::bench
