// Command-line options of `corral-run` (and the container options `corralctl create` shares):
// parsed into a ContainerSpec plus what the runtime alone does not do (network, limits).
// Hand-written rather than absl flags: the contract has repeated short options (-p) and a `--`
// separated command, which absl::ParseCommandLine does not model.
#ifndef CORRAL_TOOLS_RUN_OPTIONS_H_
#define CORRAL_TOOLS_RUN_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "netcfg/ports.h"
#include "runtime/spec.h"

namespace corral::tools {

enum class NetMode { kNone, kHost, kBridge };

struct RunOptions {
  runtime::ContainerSpec spec;
  NetMode net = NetMode::kBridge;  // as LXC's lxcbr0 and Docker's docker0 are the default
  std::vector<netcfg::PortForward> ports;  // parsed and checked for overlaps
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> pids;
  std::optional<uint64_t> cpu_weight;
  std::optional<uint64_t> cpu_quota_percent;  // --cpu-quota 50%: percent of one CPU
  std::string restart;  // corralctl create --restart no|on-failure[:N]|always ("" = not given)
  // --volume NAME:CTR[:ro]: named volumes (corralctl volume create), resolved by whoever runs
  // the container (their directory under /var/lib/corral/volumes).
  std::vector<runtime::VolumeMountSpec> volumes;
  std::string image;  // corralctl create: busybox, debian or a directory
  bool named = false;  // --name was given (else spec.name is the default, "corral")
  // --privileged: no user namespace, the container's root is the host's root (the behaviour
  // before user namespaces were the default). Otherwise, without --userns, corral-run takes a
  // block of 65536 host ids from the pool (runtime/idmap.h) for the run.
  bool privileged = false;
  bool explicit_userns = false;  // --userns HOSTUID:COUNT was given
  bool show_help = false;
  bool print_phases = false;  // per-phase start timings on stderr
};

// Who parses: corral-run needs --rootfs and a command (or --boot); `corralctl create NAME`
// takes --image instead of --rootfs, and no command means booting the image's init.
enum class OptionsFor { kRun, kCreate };

// Parses argv (without the program name). Errors name the option.
absl::StatusOr<RunOptions> ParseRunOptions(const std::vector<std::string>& args,
                                           OptionsFor purpose = OptionsFor::kRun);

absl::StatusOr<NetMode> ParseNetMode(absl::string_view text);

// The usage text.
std::string RunUsage();

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_RUN_OPTIONS_H_
