// The OCI runtime-spec config.json (versions 1.0 to 1.2) as corral reads it: parsed with
// nlohmann-json into plain structs, validated field by field, with errors naming the field and value.
#ifndef CORRAL_RUNTIME_OCI_CONFIG_H_
#define CORRAL_RUNTIME_OCI_CONFIG_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/spec.h"

namespace corral::runtime::oci {

struct Mount {
  std::string destination;  // absolute path inside the container
  std::string type;         // "bind" or empty for bind mounts (options say bind/rbind)
  std::string source;       // absolute host path for binds (relative ones resolved against the bundle)
  std::vector<std::string> options;
  // Derived from options:
  unsigned long flags = 0;        // MS_* (MS_BIND, MS_REC, MS_RDONLY, MS_NOSUID, ...)
  unsigned long propagation = 0;  // MS_PRIVATE/MS_SHARED/MS_SLAVE/MS_UNBINDABLE (| MS_REC), or 0
  std::string data;               // options the file system takes (mode=, size=, newinstance, ...)
  bool idmap = false;             // "idmap" / "ridmap"
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  bool is_bind() const;
};

struct Namespace {
  uint64_t flag = 0;  // CLONE_NEW*
  std::string type;   // "pid", "network", ...
  std::string path;   // empty: a new namespace; else join the one at this path
};

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct Device {
  std::string path;
  char type = 'c';  // c, u (unbuffered char), b, p
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct DeviceRule {
  bool allow = false;
  char type = 'a';  // a, c, b
  int64_t major = -1;
  int64_t minor = -1;
  std::string access;
};

struct Resources {
  std::optional<int64_t> memory_limit;
  std::optional<int64_t> memory_reservation;
  std::optional<int64_t> memory_swap;
  std::optional<uint64_t> cpu_shares;
  std::optional<int64_t> cpu_quota;
  std::optional<uint64_t> cpu_period;
  std::string cpuset_cpus;
  std::string cpuset_mems;
  std::optional<int64_t> pids_limit;
  std::map<std::string, std::string> unified;  // cgroup2 file -> value
  std::vector<DeviceRule> devices;
  bool empty() const;
};

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_EQ, ...
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::vector<SeccompRule> syscalls;
  std::string source;  // linux.seccomp as compact JSON with sorted keys: the cache's key
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

// The five capability sets as bit masks (bit N: capability N).
struct Capabilities {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
};

struct Process {
  bool terminal = false;
  unsigned console_height = 0, console_width = 0;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::optional<mode_t> umask;
  std::vector<gid_t> additional_gids;
  std::optional<Capabilities> capabilities;  // absent: none at all
  bool no_new_privileges = false;
  std::vector<Rlimit> rlimits;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
};

struct Config {
  std::string oci_version;
  std::string bundle;     // absolute bundle directory
  std::string root_path;  // absolute host path of the rootfs
  bool root_readonly = false;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Process process;
  bool has_linux = false;
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::vector<Device> devices;
  Resources resources;
  std::string cgroups_path;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string rootfs_propagation;
  std::string mount_label;
  Hooks hooks;
  std::map<std::string, std::string> annotations;

  // The namespace entry of this type, or nullptr.
  const Namespace* FindNamespace(uint64_t flag) const;
  // CLONE_NEW* of every namespace that is new (no path).
  uint64_t NewNamespaces() const;
};

// Parses config.json text. `bundle` is the bundle directory (root.path and relative bind
// sources are resolved against it). Errors read "config.json: process.user.uid: ..." with the value.
absl::StatusOr<Config> ParseConfig(absl::string_view json, const std::string& bundle);

// Reads BUNDLE/config.json and parses it; also checks that the rootfs is a directory.
absl::StatusOr<Config> LoadBundle(const std::string& bundle);

// Parses a "process" object alone (`exec --process FILE`).
absl::StatusOr<Process> ParseProcess(absl::string_view json);

// Parses "linux.resources"-shaped JSON (`update --resources`).
absl::StatusOr<Resources> ParseResources(absl::string_view json);

// The capability number for "CAP_CHOWN" (case-insensitive, "CAP_" optional), or -1.
int CapabilityNumber(absl::string_view name);

// The number of a signal named "KILL", "SIGKILL", "9", "SIGRTMIN+3"; -1 when unknown.
int ParseSignal(absl::string_view text);

// The spec version corral implements ("1.2.0") and a default config.json, as `runc spec` writes it.
inline constexpr char kSpecVersion[] = "1.2.0";
std::string DefaultConfigJson();

}  // namespace corral::runtime::oci

#endif  // CORRAL_RUNTIME_OCI_CONFIG_H_
