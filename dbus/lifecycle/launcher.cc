#include "dbus/lifecycle/launcher.h"

#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/syscalls.h"
#include "dbus/reconcile.h"
#include "dbus/supervisor/state_file.h"
#include "dbus/volume_methods.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/overlay_rootfs.h"

namespace corral::dbus {

absl::StatusOr<SupervisorHandle> ForkingLauncher::Launch(const ContainerRecord& record) {
  // Volumes are opened here, outside the scope whose device policy would keep the supervisor
  // from a sized volume's loop device; the supervisor inherits the mounts.
  absl::StatusOr<std::vector<UniqueFd>> volume_trees = OpenVolumeTrees(record.config, volumes_root_);
  if (!volume_trees.ok()) return volume_trees.status();
  return ForkSupervisor({record.config, record.paths, network_config_, RawFds(*volume_trees)});
}

absl::StatusOr<AdoptedSupervisor> ForkingLauncher::Adopt(const ContainerRecord& record) {
  absl::StatusOr<std::string> text = ReadFile(record.paths.state());
  absl::StatusOr<SupervisorState> state = text.ok() ? ParseSupervisorState(*text) : text.status();
  if (!state.ok()) {
    // No state file, or garbage in it: the scope is the truth. A supervisor in its leaf with
    // the container as its child runs that container, whatever the file says.
    absl::StatusOr<SupervisorState> found = StateFromScope(runtime::Cgroup2MountPoint().value_or(""), record.unit());
    if (!found.ok()) {
      if (text.ok()) ::unlink(record.paths.state().c_str());  // a stale or garbage file of a stopped one
      return absl::NotFoundError("not running");
    }
    ::fprintf(stderr, "corrald: %s: %s; found its supervisor %d and leader %d in %s\n", record.config.name.c_str(),
              text.ok() ? std::string(state.status().message()).c_str() : "no state file", found->supervisor,
              found->leader, record.unit().c_str());
    state = std::move(found);
    // Written again, so the next corrald need not search (the supervisor removes it at its end).
    WriteFileAtomically(record.paths.state(), FormatSupervisorState(*state), 0644, Durability::kProcessCrashSafe)
        .IgnoreError();
  }
  UniqueFd supervisor(sys::PidfdOpen(state->supervisor, 0));
  // The pid must still be that supervisor, not a recycled number: it lives in our scope.
  absl::StatusOr<std::string> cgroup = ReadFile(absl::StrCat("/proc/", state->supervisor, "/cgroup"));
  if (!supervisor.valid() || !cgroup.ok() || !absl::StrContains(*cgroup, record.unit())) {
    // A supervisor that died without cleaning up (killed with the whole scope).
    runtime::OverlayRootfs::DetachLeftovers(record.paths.rootfs(), record.paths.run_dir);
    ::unlink(record.paths.state().c_str());
    return absl::NotFoundError("its supervisor is gone");
  }
  AdoptedSupervisor adopted;
  adopted.pid = state->supervisor;
  adopted.pidfd = std::move(supervisor);
  adopted.leader = state->leader;
  adopted.addresses = std::move(state->addresses);
  return adopted;
}

void ForkingLauncher::CleanUpAfter(const ContainerRecord& record, bool clean, bool remove_run_dir) {
  // A supervisor killed by a signal (SIGKILL from systemd stopping its scope, the OOM killer)
  // could not unmount the container's rootfs: done here, in the same mount namespace, so the
  // next start or `rm` finds no stale mount. After a clean exit it is not mounted (EINVAL).
  runtime::OverlayRootfs::DetachLeftovers(record.paths.rootfs(), record.paths.run_dir);
  if (!clean) {
    // Its state file is undone here, as its Cleanup would.
    ::unlink(record.paths.state().c_str());
    ::unlink(record.paths.console_socket().c_str());
  }
  if (remove_run_dir) RemoveTree(record.paths.run_dir).IgnoreError();
}

int ForkingLauncher::ExitStatusOf(const ContainerRecord& record) {
  absl::StatusOr<std::string> text = ReadFile(record.paths.exit_status());
  int exit_status = -1;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &exit_status)) return -1;
  return exit_status;
}

}  // namespace corral::dbus
