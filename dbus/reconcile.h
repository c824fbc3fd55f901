// Reconciliation at corrald's start (issue 13): what the host holds for corral (mounts under the
// container directories, run directories, corral-*.scope units, machined registrations)
// compared with the containers that really run, everything that belongs to none of them freed,
// and each thing freed reported. Also how a running container is found from its scope alone
// when its state file is missing or garbage: the cgroup tree, not the file, is the truth.
#ifndef CORRAL_DBUS_RECONCILE_H_
#define CORRAL_DBUS_RECONCILE_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dbus/supervisor/state_file.h"

namespace corral::dbus {

// The supervisor and leader of the container in scope `unit` (under cgroup2's machine.slice),
// from the scope's leaves: the supervisor is the process in its `supervisor` leaf, the leader
// the child of the supervisor in the `payload` subtree. NotFound when the scope holds no
// such pair (no scope, a start that has not cloned the container yet).
absl::StatusOr<SupervisorState> StateFromScope(const std::string& cgroup2_root, const std::string& unit);

struct ReconcileInput {
  std::string lib_root;      // /var/lib/corral/containers
  std::string run_root;      // /run/corral/containers
  std::string cgroup2_root;  // where cgroup2 is mounted ("" if none)
  std::set<std::string> known;    // every container the registry has
  std::set<std::string> running;  // the ones that run now (adopted)
};

struct ReconcileResult {
  std::vector<std::string> freed;        // one line per thing freed, for the journal
  std::vector<std::string> stray_scopes;  // corral-NAME.scope units to kill and stop
};

// Unmounts mounts under lib_root/NAME or run_root/NAME of containers that do not run, removes
// run directories of names the registry does not know and stale state files of stopped
// containers, and names the populated corral-NAME.scope units of containers that do not run
// (corral-run's scopes, corral-run-*, are left to their corral-run).
ReconcileResult ReconcileHost(const ReconcileInput& input, absl::string_view mountinfo);

// The mount points (field 5 of /proc/self/mountinfo, octal escapes decoded) under `prefix`/.
std::vector<std::string> MountPointsUnder(absl::string_view mountinfo, const std::string& prefix);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_RECONCILE_H_
