// What a container is, as created: the options of CreateContainer (and of `corralctl create`),
// validated, and persisted as /var/lib/corral/containers/NAME/config so containers outlive
// corrald. Pure data and text; no bus, no syscalls beyond the file helpers.
#ifndef CORRAL_DBUS_CONTAINER_CONFIG_H_
#define CORRAL_DBUS_CONTAINER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dbus/restart_policy.h"
#include "netcfg/ports.h"

namespace corral::dbus {

enum class NetworkMode { kBridge, kNone, kHost };

absl::string_view NetworkModeName(NetworkMode mode);
absl::StatusOr<NetworkMode> ParseNetworkMode(absl::string_view text);

// The largest CPUQuota: a thousand CPUs' time.
inline constexpr uint64_t kMaxCpuQuotaPercent = 100000;

struct ContainerConfig {
  std::string name;
  std::string image;        // as asked: "busybox", "debian" or a directory
  std::string image_rootfs;  // the resolved lower directory of the container's overlay
  // A layered (OCI) image's layer directories, top first (dbus/image_defaults.h); then
  // image_rootfs is the top one. Empty for a single-tree image.
  std::vector<std::string> image_layers;
  std::string hostname;     // empty: the name
  NetworkMode network = NetworkMode::kBridge;
  std::vector<netcfg::PortForward> ports;
  uint64_t memory_bytes = 0;  // 0: no limit
  uint64_t tasks = 0;
  uint64_t cpu_weight = 0;
  // CPUQuota in percent of one CPU (200: two CPUs' time), 0: none; `corralctl set --cpu-quota`.
  uint64_t cpu_quota_percent = 0;
  // What corrald does when the container's init exits (dbus/restart_policy.h): "no",
  // "on-failure", "on-failure:N", "always".
  std::string restart = "no";
  std::vector<std::string> command;  // empty with boot: /sbin/init
  std::vector<std::string> env;
  // The process's working directory and ids inside (an OCI image's WorkingDir and User).
  std::string cwd;  // empty: /
  uint32_t uid = 0, gid = 0;
  int stop_signal = 0;  // an OCI image's StopSignal; 0: by the init (HaltSignal)
  bool boot = false;
  // --device / the Devices option: "/dev/X:ACCESS" (access normalized to rwm order). The host's
  // node is looked up when the container starts; the text is checked here.
  std::vector<std::string> devices;
  // --bind, --tmpfs, --volume / the Binds, IdmappedBinds, Tmpfs and Volumes options, as
  // normalized text (runtime/storage_spec.h: "HOST:CTR:ro[,idmap]", "CTR:mode=1777[,size=N]",
  // "NAME:CTR:rw"). Host paths and volumes are looked up when the container starts.
  std::vector<std::string> binds;
  std::vector<std::string> tmpfs;
  std::vector<std::string> volumes;
  // No user namespace: the container's root is the host's (Privileged b). Not isolated from
  // host root; only when asked for.
  bool privileged = false;
  // First host uid/gid of the container's 65536 (uid and gid 0 inside), allocated from the
  // pool at create and freed at rm. 0: none yet (privileged, or created before containers had
  // user namespaces: allocated at the next start, see Registry::EnsureIdRange).
  uint32_t uid_base = 0;
  int64_t created_usec = 0;  // CLOCK_REALTIME

  // The name made a host name when none was given (runtime::HostnameFromName).
  std::string EffectiveHostname() const;
};

// Checks everything that does not need the file system: the name, hostname, ports (range and
// overlaps), limits, env entries, and that there is something to run.
absl::Status ValidateConfig(const ContainerConfig& config);

// Devices entries: "/dev/X:ACCESS" text (runtime::ParseDeviceSpecText), access in rwm order,
// no path twice and none of the container's own nodes.
absl::Status ValidateDeviceList(const std::vector<std::string>& devices);

// Binds, tmpfs and volumes: each in its normalized form, no container path twice, no idmap on
// a privileged container.
absl::Status ValidateStorage(const ContainerConfig& config);
// The config's first line, format=kConfigFormat; its last, end=N (the lines before it).
inline constexpr char kConfigFormat[] = "corral-config-1";

// `key=value` lines, values C-escaped, lists as repeated keys; stable and diff-friendly.
// ParseConfig answers DataLoss for an empty or torn file (a framed one without its end line).
std::string FormatConfig(const ContainerConfig& config);
absl::StatusOr<ContainerConfig> ParseConfig(absl::string_view text);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_CONTAINER_CONFIG_H_
