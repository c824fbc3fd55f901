// What the durable leases file costs: one lease change (Acquire, then Release) with the file
// and directory fsynced (what LeaseStore does), against the write + rename alone. Run on the
// disk that holds /var/lib/corral (a temp dir under /var/tmp, same file system here).
#include <stdlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/files.h"
#include "netcfg/ipam.h"
#include "netcfg/ipv4.h"

namespace corral {
namespace {

std::string TempDir() {
  char tmpl[] = "/var/tmp/corral-lease-bench-XXXXXX";
  return ::mkdtemp(tmpl) != nullptr ? tmpl : "";
}

// A file of 50 leases, rewritten as a lease change rewrites it.
void BM_LeasesFileWrite(benchmark::State& state) {
  Durability durability = state.range(0) != 0 ? Durability::kCrashSafe : Durability::kProcessCrashSafe;
  std::string dir = TempDir();
  std::vector<netcfg::Lease> leases;
  for (uint32_t i = 0; i < 50; ++i) {
    leases.push_back({absl::StrCat("c", i), 0x0a4d0002 + i, absl::StrCat("ve-c", i), {}});
  }
  std::string text = netcfg::FormatLeases(leases);
  for (auto _ : state) {
    if (!WriteFileAtomically(dir + "/leases", text, 0644, durability).ok()) state.SkipWithError("write failed");
  }
  RemoveTree(dir).IgnoreError();
}
BENCHMARK(BM_LeasesFileWrite)->Arg(0)->Arg(1)->ArgName("fsync")->Unit(benchmark::kMicrosecond);

// A start and a removal: LeaseStore::Acquire + Release, each a locked, durable write.
void BM_LeaseAcquireRelease(benchmark::State& state) {
  std::string dir = TempDir();
  netcfg::LeaseStore store(dir, *netcfg::ParseIpv4Interface("10.77.0.1/16"));
  for (int i = 0; i < 50; ++i) store.Acquire(absl::StrCat("c", i), {}).IgnoreError();
  for (auto _ : state) {
    if (!store.Acquire("bench", {}).ok() || !store.Release("bench").ok()) state.SkipWithError("lease failed");
  }
  RemoveTree(dir).IgnoreError();
}
BENCHMARK(BM_LeaseAcquireRelease)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace corral

BENCHMARK_MAIN();
