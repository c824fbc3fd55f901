// Who a lease belongs to, beyond its name: the identity of an unnamed corral-run (pid, the
// process's start time and the boot, so neither a recycled pid nor a reboot can pass for it),
// and the claims (netcfg/network.h ClaimContainerNetwork) that live processes hold.
#ifndef CORRAL_NETCFG_OWNER_H_
#define CORRAL_NETCFG_OWNER_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::netcfg {

struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22, clock ticks after boot
  std::string boot;         // the first 8 hex digits of the boot id
  bool operator==(const ProcessIdentity&) const = default;
};

// The identity of a live process; NotFound when it is gone.
absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid);


// The lease (and network claim) name of an unnamed corral-run: "run-PID-STARTTIME-BOOT".
std::string RunLeaseName(const ProcessIdentity& identity);
// The identity in such a name; nullopt for any other name (including the old "run-PID").
std::optional<ProcessIdentity> ParseRunLeaseName(absl::string_view name);

enum class RunLiveness { kNotARun, kAlive, kDead };
// Whether the corral-run a lease name identifies still runs (same pid, start time and boot).
RunLiveness RunLeaseLiveness(absl::string_view name);

// The names whose network claim a live process holds in the calling thread's network
// namespace, read from /proc/thread-self/net/unix (no side effect on the holders).
absl::StatusOr<std::set<std::string>> HeldNetworkClaims();
// The same from /proc/net/unix text, for tests.
std::set<std::string> ParseHeldNetworkClaims(absl::string_view proc_net_unix);

// The abstract socket name of a claim, without its leading NUL: "corral/network/NAME".
std::string NetworkClaimName(absl::string_view container);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_OWNER_H_
