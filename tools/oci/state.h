// corral-oci's globals (the command line's --root, --log, ...), its error reporting, and the
// state of one container as kept in --root/ID/state.json, with the status read from the kernel.
#ifndef CORRAL_TOOLS_OCI_STATE_H_
#define CORRAL_TOOLS_OCI_STATE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace corral::oci_cli {

inline constexpr char kVersion[] = "0.1.0";

struct Globals {
  std::string root = "/run/corral-oci";
  std::string log;
  bool log_json = false;
  bool systemd_cgroup = false;
  bool debug = false;
  bool register_machine = false;  // --register: every container registered with machined
};
extern Globals g;

// RFC 3339 with microseconds, UTC.
std::string Now();

// Errors go to stderr and, with --log, to the log file (JSON lines with --log-format json,
// which conmon and containerd read back).
void LogError(absl::string_view message);

absl::Status CheckId(const std::string& id);
std::string StateDir(const std::string& id);
// --root/seccomp:cache (':' is never in an id): compiled seccomp programs by content.
std::string SeccompCacheDir();
bool Exists(const std::string& path);

struct State {
  std::string id;
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::string bundle;
  std::string rootfs;
  std::string created;
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> cgroups;
  std::string machine;  // the machined name it was registered as, or empty
};

absl::StatusOr<uint64_t> StartTimeOf(pid_t pid, char* proc_state);
absl::Status SaveState(const State& s);
// "container \"ID\" does not exist" (NotFound) when there is none.
absl::StatusOr<State> LoadState(const std::string& id);
// created / running / paused / stopped. The pid names our init only while its start time is
// the recorded one (a recycled pid is another process) and it is not a zombie.
std::string StatusOf(const State& s);
// The state as `runc state` prints it.
std::string StateJson(const State& s, const std::string& status, bool pretty);
// A pidfd of the init, or "container not running" when it is gone.
absl::StatusOr<UniqueFd> OpenInit(const State& s);
std::string OwnerName();

}  // namespace corral::oci_cli

#endif  // CORRAL_TOOLS_OCI_STATE_H_
