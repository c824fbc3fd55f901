// sandbox_peers_bench: the peers that may run only inside the throwaway systemd (runc and LXC
// make cgroups at the root of every hierarchy they see; LXC's package starts lxc-net), each in
// the same run as corral doing the same work on the same busybox rootfs (BusyboxRootfs()):
//   - start to exit of /bin/true with every namespace: corral-run --net none against runc run,
//     lxc-execute, lxc-start -F, and crun run (as start_bench runs it, for a cross-check);
//   - exec of /bin/true into a running container: corral's library attach and `corralctl exec`
//     (through corrald) against lxc-attach and crun exec.
// The peers run in their normal configurations: LXC with a minimal config (no AppArmor, an
// empty network namespace, no console); runc and crun with an OCI bundle; all three with
// corral's capabilities and seccomp deny list (peer_configs.h), so they do the same work; runc and
// LXC make their cgroups as they always do (neither can run without), crun runs without, as
// corral-run does when no limit is asked for. Run it with benchmarks/run_sandbox_peers_bench.sh,
// which installs runc and LXC into the sandbox (never on the host) and corral beside them.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_util.h"
#include "benchmarks/peer_configs.h"
#include "common/files.h"
#include "runtime/attach.h"
#include "runtime/container.h"

namespace corral::bench {
namespace {

constexpr char kExecContainer[] = "bench-peers-exec";

// The temp dir that holds the busybox rootfs (removed at exit): bundles, state dirs, configs.
std::string WorkDir() { return BusyboxRootfs() + "/.."; }

std::string Program(const std::string& name) {
  return FindProgram({"/usr/local/bin/" + name, "/usr/bin/" + name, "/usr/sbin/" + name, "/bin/" + name});
}

// Skips `state` when `program` is missing; true when it may go on.
bool Have(benchmark::State& state, const std::string& program, const char* what) {
  if (!program.empty()) return true;
  state.SkipWithError(
      absl::StrCat(what, " is not installed (benchmarks/run_sandbox_peers_bench.sh installs it in the sandbox)")
          .c_str());
  return false;
}

// An OCI bundle running `args` on the busybox rootfs with corral's capabilities and seccomp
// profile (peer_configs.h): the same work as a corral start.
std::string OciBundle(const std::string& name, const std::vector<std::string>& args) {
  return WriteOciBundle(absl::StrCat(WorkDir(), "/", name), BusyboxRootfs(), args, /*same_as_corral=*/true);
}

// LXC's minimal configuration for the same rootfs: every namespace (the network one empty),
// unconfined, no console or ttys, proc and a read-only sys, an automatic /dev, and corral's
// capabilities and seccomp deny list.
std::string LxcConfig() {
  static const std::string* path = [] {
    std::string file = WorkDir() + "/lxc.conf";
    WriteFileAtomically(file, absl::StrCat("lxc.uts.name = bench\n"
                                           "lxc.rootfs.path = dir:", BusyboxRootfs(), "\n"
                                           "lxc.net.0.type = empty\n"
                                           "lxc.apparmor.profile = unconfined\n"
                                           "lxc.console.path = none\n"
                                           "lxc.tty.max = 0\n"
                                           "lxc.pty.max = 16\n"
                                           "lxc.mount.auto = proc:mixed sys:ro\n"
                                           "lxc.autodev = 1\n", LxcCorralProfile(WorkDir())))
        .IgnoreError();
    return new std::string(file);
  }();
  return *path;
}

std::string LxcPath() {
  static const std::string* path = [] {
    std::string dir = WorkDir() + "/lxc";
    MakeDirectories(dir).IgnoreError();
    return new std::string(dir);
  }();
  return *path;
}

// ---- start to exit ----

void BM_CorralRunTrue(benchmark::State& state) {
  std::string corral_run = Program("corral-run");
  if (!Have(state, corral_run, "corral-run")) return;
  TimeCommand(state, {corral_run, "--rootfs", BusyboxRootfs(), "--net", "none", "--", "/bin/true"}, "corral-run");
}
BENCHMARK(BM_CorralRunTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerCrunRunTrue(benchmark::State& state) {
  std::string crun = Program("crun");
  if (!Have(state, crun, "crun")) return;
  std::string bundle = OciBundle("oci-true", {"/bin/true"});
  std::string root = WorkDir() + "/crun-state";
  TimeCommand(
      state, [&](int i) -> std::vector<std::string> { return {crun, "--root", root, "--cgroup-manager=disabled", "run", "--bundle", bundle,
                    absl::StrCat("bench-", i)}; },
      "crun run");
}
BENCHMARK(BM_PeerCrunRunTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

void BM_PeerRuncRunTrue(benchmark::State& state) {
  std::string runc = Program("runc");
  if (!Have(state, runc, "runc")) return;
  std::string bundle = OciBundle("oci-true", {"/bin/true"});
  std::string root = WorkDir() + "/runc-state";
  TimeCommand(
      state, [&](int i) -> std::vector<std::string> { return {runc, "--root", root, "run", "--bundle", bundle, absl::StrCat("bench-", i)}; },
      "runc run");
}
BENCHMARK(BM_PeerRuncRunTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// lxc-execute: LXC's application container, the command under its own small init (as
// corral-run's command runs under corral's tiny init).
void BM_PeerLxcExecuteTrue(benchmark::State& state) {
  std::string lxc_execute = Program("lxc-execute");
  if (!Have(state, lxc_execute, "lxc-execute")) return;
  TimeCommand(state, {lxc_execute, "-P", LxcPath(), "-n", "bench-execute", "-f", LxcConfig(), "--", "/bin/true"}, "lxc-execute");
}
BENCHMARK(BM_PeerLxcExecuteTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// lxc-start in the foreground, the command as the container's PID 1.
void BM_PeerLxcStartTrue(benchmark::State& state) {
  std::string lxc_start = Program("lxc-start");
  if (!Have(state, lxc_start, "lxc-start")) return;
  for (auto _ : state) {
    if (RunCommand({lxc_start, "-F", "-P", LxcPath(), "-n", "bench-start", "-f", LxcConfig(), "--", "/bin/true"}) !=
        0) {
      state.SkipWithError("lxc-start failed");
      return;
    }
  }
}
BENCHMARK(BM_PeerLxcStartTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// ---- exec into a running container: each side has one container sleeping for the run,
// stopped at exit (nothing may outlive the run) ----

void BM_AttachExecTrue(benchmark::State& state) {
  runtime::Container* container = SleepingContainer(0);
  if (container == nullptr) {
    state.SkipWithError("the library container did not start");
    return;
  }
  runtime::AttachSpec spec;
  spec.command = {"/bin/true"};  // with the default seccomp profile, as corrald's exec
  for (auto _ : state) {
    auto process = runtime::Attach(container->pidfd(), spec);
    if (!process.ok() || *runtime::WaitAttached(*process) != 0) {
      state.SkipWithError("attach failed");
      return;
    }
  }
}
BENCHMARK(BM_AttachExecTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// corrald's container on the same rootfs (the image given as a directory), without network.
bool CorraldContainer() {
  static bool running = [] {
    std::string corralctl = Program("corralctl");
    if (corralctl.empty()) return false;
    RunCommand({corralctl, "stop", kExecContainer, "--timeout", "1"});
    RunCommand({corralctl, "rm", kExecContainer});
    if (RunCommand({corralctl, "create", kExecContainer, "--image", BusyboxRootfs(), "--net", "none", "--",
                    "/bin/sleep", "100000"},
                   false) != 0 ||
        RunCommand({corralctl, "start", kExecContainer}, false) != 0) {
      return false;
    }
    ::atexit([] {
      std::string ctl = Program("corralctl");
      RunCommand({ctl, "stop", kExecContainer, "--timeout", "1"});
      RunCommand({ctl, "rm", kExecContainer});
    });
    return true;
  }();
  return running;
}

void BM_CorralctlExecTrue(benchmark::State& state) {
  std::string corralctl = Program("corralctl");
  if (!Have(state, corralctl, "corralctl")) return;
  if (!CorraldContainer()) {
    state.SkipWithError("corralctl create/start failed (is corrald installed?)");
    return;
  }
  TimeCommand(state, {corralctl, "exec", kExecContainer, "--", "/bin/true"}, "corralctl exec");
}
BENCHMARK(BM_CorralctlExecTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// LXC's container for lxc-attach: lxc-start -d (daemonized, as LXC containers run), sleeping.
bool LxcContainer() {
  static bool running = [] {
    std::string lxc_start = Program("lxc-start");
    if (lxc_start.empty()) return false;
    if (RunCommand({lxc_start, "-d", "-P", LxcPath(), "-n", "bench-attach", "-f", LxcConfig(), "--", "/bin/sleep",
                    "100000"},
                   false) != 0) {
      return false;
    }
    ::atexit([] { RunCommand({Program("lxc-stop"), "-k", "-P", LxcPath(), "-n", "bench-attach"}, false); });
    return true;
  }();
  return running;
}

// lxc-attach as it comes: every namespace, the container's cgroups and LSM label, capabilities
// dropped as configured.
void BM_PeerLxcAttachTrue(benchmark::State& state) {
  std::string lxc_attach = Program("lxc-attach");
  if (!Have(state, lxc_attach, "lxc-attach")) return;
  if (!LxcContainer()) {
    state.SkipWithError("lxc-start -d failed");
    return;
  }
  TimeCommand(state, {lxc_attach, "-P", LxcPath(), "-n", "bench-attach", "--", "/bin/true"}, "lxc-attach");
}
BENCHMARK(BM_PeerLxcAttachTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// crun's container for crun exec: run -d (detached), sleeping, without cgroups as above.
bool CrunContainer() {
  static bool running = [] {
    std::string crun = Program("crun");
    if (crun.empty()) return false;
    std::string root = WorkDir() + "/crun-state";
    if (RunCommand({crun, "--root", root, "--cgroup-manager=disabled", "run", "-d", "--bundle",
                    OciBundle("oci-sleep", {"/bin/sleep", "100000"}), "bench-exec"}) != 0) {
      return false;
    }
    ::atexit([] {
      std::string root = WorkDir() + "/crun-state";
      RunCommand({Program("crun"), "--root", root, "kill", "bench-exec", "KILL"}, false);
      RunCommand({Program("crun"), "--root", root, "delete", "-f", "bench-exec"}, false);
    });
    return true;
  }();
  return running;
}

void BM_PeerCrunExecTrue(benchmark::State& state) {
  std::string crun = Program("crun");
  if (!Have(state, crun, "crun")) return;
  if (!CrunContainer()) {
    state.SkipWithError("crun run -d failed");
    return;
  }
  std::string root = WorkDir() + "/crun-state";
  TimeCommand(state, {crun, "--root", root, "exec", "bench-exec", "/bin/true"}, "crun exec");
}
BENCHMARK(BM_PeerCrunExecTrue)->Apply(Repeated)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace corral::bench

BENCHMARK_MAIN();
