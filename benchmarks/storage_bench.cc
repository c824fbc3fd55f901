// storage_bench: what a bind mount or a named volume adds to a container's start (issue 14:
// at most 0.3 ms, medians of the same run): the library's start of /bin/true to its exit with
// no storage, one --bind, one --volume, privileged and in a user namespace (where the binds are
// staged in a mount namespace of the host's so the kernel locks them: runtime/bind_stage.h).
// The per-start delta is the difference of the medians of storage=1 or 2 and storage=0 at the
// same userns.
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "common/files.h"
#include "runtime/container.h"
#include "runtime/userns.h"
#include "runtime/volume_store.h"

namespace corral::bench {
namespace {

// Inside the range start_bench's and the tests' pools leave alone.
constexpr uint32_t kBase = 4194304 + 65536 * 40;

std::string* g_dir = nullptr;

void RemoveDir() {
  if (g_dir != nullptr) RemoveTree(*g_dir).IgnoreError();
}

// A scratch directory next to the busybox rootfs (so on the same file system): the bind's
// source, and a volume store with one plain volume.
const std::string& StorageDir() {
  static const std::string* dir = [] {
    const std::string& rootfs = BusyboxRootfs();
    std::string parent = rootfs.substr(0, rootfs.find_last_of('/'));
    // The container's root (an unprivileged uid) walks to its rootfs through here.
    ::chmod(parent.c_str(), 0711);
    std::string d = parent + "-storage";
    if (!MakeDirectories(d + "/bind/data", 0755).ok() || !MakeDirectories(d + "/volumes", 0700).ok()) ::abort();
    g_dir = new std::string(d);
    ::atexit(RemoveDir);
    runtime::VolumeStore store(d + "/volumes");
    if (!store.Create("benchvol", 0).ok()) ::abort();
    return g_dir;
  }();
  return *dir;
}

void BM_LibraryStartWithStorage(benchmark::State& state) {
  const int64_t storage = state.range(0);  // 0 none, 1 one bind, 2 one volume
  const bool userns = state.range(1) == 1;
  runtime::ContainerSpec base;
  base.name = "bench";
  base.rootfs = BusyboxRootfs();
  base.command = {"/bin/true"};
  base.namespaces &= ~static_cast<uint64_t>(CLONE_NEWNET);  // as BM_LibraryStartTrue netns=0: no netns cost
  const std::string& dir = StorageDir();
  if (userns) {
    base.namespaces |= CLONE_NEWUSER;
    base.uid_map = base.gid_map = runtime::BlockMap(kBase);
    base.idmap_rootfs = true;
  }
  runtime::VolumeStore store(dir + "/volumes");
  for (auto _ : state) {
    runtime::ContainerSpec spec = base;
    std::vector<UniqueFd> trees;  // the volume's tree, open until the start is done
    if (storage == 1) {
      runtime::BindSpec bind;
      bind.source = dir + "/bind/data";
      bind.target = "/mnt/data";
      spec.binds.push_back(bind);
    } else if (storage == 2) {
      runtime::VolumeMountSpec volume;
      volume.name = "benchvol";
      volume.target = "/mnt/vol";
      absl::Status added = runtime::AddVolumeBinds(store, {volume}, &spec, &trees);
      if (!added.ok()) {
        state.SkipWithError(std::string(added.message()).c_str());
        return;
      }
    }
    auto container = runtime::Container::Start(spec);
    if (!container.ok() || *container->Wait() != 0) {
      state.SkipWithError(container.ok() ? "the command failed" : std::string(container.status().message()).c_str());
      return;
    }
  }
}
BENCHMARK(BM_LibraryStartWithStorage)
    ->ArgNames({"storage", "userns"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace corral::bench

BENCHMARK_MAIN();
