// The lifecycle at corrald's start (adopting running containers, reconciling the host) and at
// a container's removal (its address freed), with the bridge network's reclamation both need.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/files.h"
#include "dbus/error_kind.h"
#include "dbus/lifecycle/lifecycle.h"
#include "dbus/reconcile.h"
#include "dbus/retry.h"
#include "netcfg/config.h"
#include "netcfg/network.h"
#include "netcfg/owner.h"
#include "runtime/cgroup/cgroup.h"

namespace corral::dbus {
void Lifecycle::RecoverAll() {
  for (ContainerRecord* record : registry_->List()) Recover(record);
  ReconcileAtStart();
}

void Lifecycle::Recover(ContainerRecord* record) {
  if (record->state == ContainerState::kBroken) return;  // its config is unknown: nothing to adopt
  NoteUnenforcedLimits(record, nullptr);
  absl::StatusOr<AdoptedSupervisor> found = launcher_->Adopt(*record);
  if (!found.ok()) {  // not running: maybe waiting for its restart's back-off
    RecoverPendingRestart(record);
    return;
  }
  auto run = std::make_shared<ContainerRun>(this, record);
  run->supervisor = found->pid;
  run->supervisor_pidfd = std::move(found->pidfd);
  run->recovered = true;
  WatchExit(*run);
  runs_[record->config.name] = run;
  MarkRunning(*run, found->leader, std::move(found->addresses), RunEvent::kRecovered);
}

// Everything the host holds for containers that do not run is freed, and said.
void Lifecycle::ReconcileAtStart() {
  ReconcileInput input{registry_->paths().lib_root, registry_->paths().run_root, runtime::Cgroup2MountPoint().value_or(""), {},
                       {}};
  for (ContainerRecord* record : registry_->List()) input.known.insert(record->config.name);
  for (const auto& [name, run] : runs_) input.running.insert(name);
  ReconcileResult reconciled;
  if (options_.host_reconciler) {
    reconciled = options_.host_reconciler(input);
  } else if (options_.reconcile_host) {
    reconciled = ReconcileHost(input, ReadFile("/proc/self/mountinfo").value_or(""));
  }
  for (const std::string& line : reconciled.freed) ::fprintf(stderr, "corrald: reconciled at start: %s\n", line.c_str());
  for (const std::string& unit : reconciled.stray_scopes) {
    ::fprintf(stderr, "corrald: reconciled at start: killed and stopped %s (no living supervisor)\n", unit.c_str());
    scopes_->KillAndStopScope(unit);
    RemoveStaleRunFilesOnceEmpty(unit);
  }
  machines_->UnregisterMachinesExcept(input.running, [](const std::string& machine) {
    ::fprintf(stderr, "corrald: reconciled at start: unregistered machine %s (no such running container)\n",
              machine.c_str());
  });
  // Adopted containers whose registration died with the last corrald are registered now.
  std::map<std::string, MachineLeader> machines;
  for (const auto& [name, run] : runs_) {
    if (RegistersWithMachined(name)) machines[name] = {run->record->leader, run->record->paths.rootfs()};
  }
  machines_->RegisterMissingMachines(std::move(machines), [](const std::string& machine, absl::Status status) {
    ::fprintf(stderr, "corrald: reconciled at start: registered machine %s: %s\n", machine.c_str(),
              status.ok() ? "ok" : std::string(status.message()).c_str());
  });
  ReclaimNetwork("at start");
}

// A supervisor of a start the last corrald left in flight may still have been finishing it
// when the run directory was cleaned above: its state file, written then, outlives it once the
// kill lands. Removed once the scope is empty (checked from the loop, never waited for), unless
// the container runs again by then.
void Lifecycle::RemoveStaleRunFilesOnceEmpty(const std::string& unit) {
  constexpr uint64_t kIntervalUsec = 100'000;
  constexpr int kTries = 100;  // 10 s: a kill through systemd lands well within it
  std::string name = unit.substr(0, unit.size() - (sizeof(".scope") - 1)).substr(sizeof("corral-") - 1);
  auto tries = std::make_shared<int>(0);
  RetryLater(event_, kIntervalUsec, [this, unit, name, tries]() {
    if (runs_.count(name)) return true;  // started again: the files are its own
    if (scopes_->ScopeHasProcesses(unit)) return ++*tries >= kTries;  // still there after 10 s: left alone
    ContainerRecord* record = registry_->Find(name);
    if (record == nullptr) return true;
    for (const std::string& path : {record->paths.state(), record->paths.console_socket()}) {
      if (::unlink(path.c_str()) == 0) ::fprintf(stderr, "corrald: reconciled at start: removed the stale %s\n", path.c_str());
    }
    return true;
  });
}

void Lifecycle::ReclaimNetwork(const std::string& why) {
  if (!options_.reconcile_host) return;
  absl::StatusOr<netcfg::NetworkConfig> config = netcfg::LoadNetworkConfig(options_.network_config);
  absl::StatusOr<std::unique_ptr<netcfg::BridgeNetwork>> network =
      config.ok() ? netcfg::BridgeNetwork::Open(*config) : config.status();
  // A container this corrald runs (or starts) keeps everything; one it knows that does not run
  // keeps its address; a name it does not know keeps nothing unless a live process holds its
  // claim (a corral-run, or a supervisor this corrald has not adopted).
  auto judge = [this](const netcfg::Lease& lease, bool claimed) {
    using Fate = netcfg::BridgeNetwork::LeaseFate;
    if (claimed || runs_.count(lease.container)) return Fate::kKeep;
    if (registry_->Find(lease.container) != nullptr) return Fate::kKeepAddress;
    return netcfg::RunLeaseLiveness(lease.container) == netcfg::RunLiveness::kAlive ? Fate::kKeep : Fate::kFree;
  };
  absl::StatusOr<netcfg::BridgeNetwork::Reclaimed> reclaimed =
      network.ok() ? (*network)->Reclaim(judge, {}) : network.status();
  if (!reclaimed.ok()) {
    // The leases lock is held by another process: once more from the loop a moment later (one
    // pass waiting at a time; it judges by what this corrald knows then). Any other failure (a
    // full disk refused the leases file) is retried every 5 s, so a forward of a container that
    // ended meanwhile is freed once there is room again.
    bool locked = reclaimed.status().code() == absl::StatusCode::kUnavailable;
    if (!locked && !network.ok()) {  // no network configured: nothing to retry for
      ::fprintf(stderr, "corrald: network reconciliation %s failed: %s\n", why.c_str(),
                std::string(reclaimed.status().message()).c_str());
      return;
    }
    if (!locked) {
      ::fprintf(stderr, "corrald: network reconciliation %s failed (again in 5 s): %s\n", why.c_str(),
                std::string(reclaimed.status().message()).c_str());
    }
    if (!reclaim_pending_) {
      reclaim_pending_ = true;
      RetryLater(event_, locked ? 10 * kLockRetryUsec : 5'000'000, [this, why]() {
        reclaim_pending_ = false;
        ReclaimNetwork(why);
        return true;
      });
    }
    return;
  }
  for (const std::string& line : reclaimed->Describe()) {
    ::fprintf(stderr, "corrald: reclaimed %s: %s\n", why.c_str(), line.c_str());
  }
}

// ---- remove ----

absl::Status Lifecycle::Remove(const std::string& name, uint64_t deadline_usec, bool* busy) {
  *busy = false;
  // Checked on every attempt: a retry comes back to a world that may have changed.
  ContainerRecord* record = registry_->Find(name);
  if (record == nullptr) return NoSuchContainerError(name);
  if ((record->state != ContainerState::kStopped && record->state != ContainerState::kBroken) || runs_.count(name)) {
    return AlreadyRunningError(absl::StrCat("container ", name, " is running: stop it first"));
  }
  // Never under a running process: a scope whose supervisor died may still be emptying.
  if (scopes_->ScopeHasProcesses(record->unit())) {
    return AlreadyRunningError(absl::StrCat("the scope ", record->unit(), " of container ", name,
                                            " still has processes; try again when it is empty (systemctl stop ",
                                            record->unit(), ")"));
  }
  CancelRestart(record);
  if (record->config.network == NetworkMode::kBridge) {
    absl::Status released = ReleaseAddress(name, deadline_usec, busy);
    if (*busy || !released.ok()) return released;
  }
  observer_->Removing(*record);
  return registry_->Remove(name);
}

// Its address goes with it (the network keeps a lease while a stopped container exists), and
// every forward still pointing at that address (an unclean end leaves them).
absl::Status Lifecycle::ReleaseAddress(const std::string& name, uint64_t deadline_usec, bool* busy) {
  absl::StatusOr<netcfg::NetworkConfig> network_config = netcfg::LoadNetworkConfig(options_.network_config);
  absl::StatusOr<std::unique_ptr<netcfg::BridgeNetwork>> network =
      network_config.ok() ? netcfg::BridgeNetwork::Open(*network_config) : network_config.status();
  // The veth is not deleted here: a stopped container's went with its network namespace (the
  // kernel's netns cleanup, which a synchronous RTM_DELLINK would only wait for in corrald's
  // loop), and one an unclean end left is reclaimed by the next pass.
  absl::Status released =
      network.ok() ? (*network)->Detach(name, {/*keep_address=*/false, /*delete_link=*/false,
                                               /*find_stray_forwards=*/true})
                   : network.status();
  if (released.code() == absl::StatusCode::kUnavailable) {
    if (MonotonicUsec() < deadline_usec) {
      *busy = true;
      return absl::OkStatus();
    }
    return FailedError(absl::StrCat("rm ", name, ": ", released.message(), " for ", kRemoveLockWaitUsec / 1000000,
                                    " s; nothing was removed"));
  }
  // The next reconciliation pass (corrald's start) frees what could not be freed now.
  if (!released.ok()) ::fprintf(stderr, "corrald: rm %s: %s\n", name.c_str(), std::string(released.message()).c_str());
  return absl::OkStatus();
}

}  // namespace corral::dbus
