#include "tools/run_options.h"

#include <sched.h>

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace corral::tools {

std::string RunUsage() {
  return R"(usage: corral-run --rootfs DIR [options] -- CMD [ARGS...]
Runs one container in the foreground and exits with its command's status (128+signal if killed).
A foreground tool, like unshare: the container gets corral-run's stdin, stdout and stderr when
they are pipes or files; a terminal among them is never handed over (the container gets a
fresh pty, relayed to it), so nothing inside can change its modes or keep reading it.

  --rootfs DIR          root file system of the container (required)
  --name N              container name (default: corral)
  --hostname H          host name inside (default: the name)
  --net MODE            bridge (default: eth0 on the NAT'd bridge, see /etc/corral/network.conf),
                        none (own network namespace, only lo), or host (the host's)
  -p, --publish [tcp|udp:]HOSTPORT:CTRPORT
                        forward a host port to the container (with --net bridge)
  --memory BYTES        memory limit (64M, 1G, ...), through a systemd scope
  --pids N              task limit, through a systemd scope
  --cpu-weight N        CPU weight (1-10000), through a systemd scope
  --cpu-quota P%        CPU time in percent of one CPU (150% = 1.5 CPUs), through a systemd scope
                        (each refused when this host's cgroups lack the memory, pids or cpu
                        controller that would enforce it)
  --boot                run the image's /sbin/init (or CMD) as a full system
  --init                run CMD under corral's minimal init (reaps zombies, forwards signals)
  -t, --tty             give the container a console pty
  -e, --env K=V         set an environment variable (repeatable)
  --cwd DIR             working directory inside (default /)
  --user UID[:GID]      run as this user (numeric)
  --privileged          no user namespace: root inside IS the host's root, with the kernel's
                        full power wherever a capability is kept (NOT isolated from the host);
                        the default runs every container in its own user namespace
  --userns HOSTUID:COUNT
                        map 0..COUNT-1 to HOSTUID.. (uid and gid) instead of a block from the
                        pool (default: 65536 ids from /etc/corral/idmap.conf, or
                        $CORRAL_IDMAP_CONFIG, 524288 upwards; freed when the run exits)
  --device /dev/X[:rwm] give the container the host's device node /dev/X (repeatable): bound into
                        its /dev and added to its device allow-list with access r (read),
                        w (write), m (mknod), default rwm; less than rwm runs the container in
                        a systemd scope, whose device cgroup enforces it. Without --device a
                        container may use only null, zero, full, random, urandom, tty,
                        console, ptmx and its ptys. Unprivileged, the node keeps its host
                        owner and mode (root inside is not the host's root): a node only host
                        root may open (0600) needs --privileged
  --bind HOST:CTR[:ro|rw][,idmap]
                        bind the host path HOST (a directory with its submounts, or a file) at
                        CTR inside (repeatable); CTR is resolved inside the rootfs (an image's
                        symlinks cannot point it outside) and made if missing. nodev, nosuid,
                        private; ro makes every submount read-only too. HOST must exist and
                        lie outside /var/lib/corral and /run/corral. Ownership: privileged, as
                        on the host. Unprivileged without idmap, host uids outside the
                        container's range show as nobody (65534) and root inside has no
                        owner's rights on them (host root's files: others' permissions apply).
                        With idmap (unprivileged only), HOST is seen through the container's id
                        map: host uid N shows as uid N inside (host root's files are owned by
                        root inside) and what uid N inside writes lands on the host as uid N
                        (root inside writes files owned by host root: give idmap only for data
                        you would let root inside own)
  --tmpfs CTR[:size=S,mode=M]
                        a fresh tmpfs at CTR (repeatable), nosuid, nodev, owned by root inside;
                        mode default 1777, size default the kernel's (half of RAM)
  --volume NAME:CTR[:ro]
                        the named volume NAME (corralctl volume create; the store is
                        /var/lib/corral/volumes, or $CORRAL_VOLUMES_DIR) at CTR (repeatable).
                        Its files keep the ids containers see: unprivileged, it is idmapped
                        through the container's map (its top is root's inside). A sized volume
                        needs loop devices, which a scope (--memory, --pids, --cpu-weight) does
                        not allow
  --no-seccomp          do not install the default seccomp filter
  --print-phases        print per-phase start timings to stderr
  -h, --help            this text

User namespaces: root inside maps to an unprivileged host uid. DIR is used through an idmapped
bind mount, so files owned by host root on disk are owned by root inside, and what root inside
writes to DIR lands on disk owned by host uid 0 (uid N inside: host uid N). Every directory on
the way to DIR must be searchable by others (0711).
)";
}

absl::StatusOr<NetMode> ParseNetMode(absl::string_view text) {
  if (text == "none") return NetMode::kNone;
  if (text == "host") return NetMode::kHost;
  if (text == "bridge") return NetMode::kBridge;
  return absl::InvalidArgumentError(absl::StrCat("--net: unknown mode \"", text, "\" (use none, host or bridge)"));
}

namespace {

absl::Status ParseUint(absl::string_view option, absl::string_view text, uint64_t min, uint64_t max,
                       uint64_t* out) {
  if (text.empty() || !absl::SimpleAtoi(text, out) || text[0] == '-' || text[0] == '+' || *out < min ||
      *out > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": \"", text, "\" is not a whole number between ", min, " and ", max));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// What one option does to the options being built; `opt` is the spelling given (-e or --env),
// for error text.
using OptionHandler = absl::Status (*)(RunOptions& options, const std::string& opt, const std::string& v);

struct OptionEntry {
  std::vector<absl::string_view> names;
  bool takes_value;
  // Set: the option exists only for this caller (corral-run's --rootfs, create's --image and
  // --restart); the other refuses it by name.
  std::optional<OptionsFor> only_for;
  OptionHandler apply;
};

absl::Status ApplyPublish(RunOptions& options, const std::string& opt, const std::string& v) {
  absl::StatusOr<netcfg::PortForward> forward = netcfg::ParsePortForward(v);
  if (!forward.ok()) return absl::InvalidArgumentError(absl::StrCat(opt, ": ", forward.status().message()));
  options.ports.push_back(*forward);
  return absl::OkStatus();
}

absl::Status ApplyMemory(RunOptions& options, const std::string&, const std::string& v) {
  uint64_t bytes = 0;
  absl::Status parsed = runtime::ParseByteSize(v, &bytes);
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("--memory: ", parsed.message()));
  if (bytes < (uint64_t{4} << 20)) return absl::InvalidArgumentError("--memory: at least 4M is needed");
  options.memory_bytes = bytes;
  return absl::OkStatus();
}

absl::Status ApplyCpuQuota(RunOptions& options, const std::string&, const std::string& v) {
  std::string percent = absl::EndsWith(v, "%") ? v.substr(0, v.size() - 1) : v;
  uint64_t n = 0;
  RETURN_IF_ERROR(ParseUint("--cpu-quota", percent, 1, 100000, &n));
  options.cpu_quota_percent = n;
  return absl::OkStatus();
}

absl::Status ApplyEnv(RunOptions& options, const std::string& opt, const std::string& v) {
  if (v.find('=') == std::string::npos || v[0] == '=') {
    return absl::InvalidArgumentError(absl::StrCat(opt, ": \"", v, "\" is not KEY=VALUE"));
  }
  options.spec.env.push_back(v);
  return absl::OkStatus();
}

absl::Status ApplyUser(RunOptions& options, const std::string&, const std::string& v) {
  std::vector<std::string> parts = absl::StrSplit(v, ':');
  uint64_t uid = 0, gid = 0;
  if (parts.size() > 2) return absl::InvalidArgumentError(absl::StrCat("--user: \"", v, "\" is not UID[:GID]"));
  RETURN_IF_ERROR(ParseUint("--user", parts[0], 0, 4294967294u, &uid));
  gid = uid;
  if (parts.size() == 2) RETURN_IF_ERROR(ParseUint("--user", parts[1], 0, 4294967294u, &gid));
  options.spec.uid = static_cast<uid_t>(uid);
  options.spec.gid = static_cast<gid_t>(gid);
  return absl::OkStatus();
}

absl::Status ApplyDevice(RunOptions& options, const std::string&, const std::string& v) {
  runtime::ContainerSpec& spec = options.spec;
  absl::StatusOr<runtime::DeviceSpec> device = runtime::ParseDeviceSpec(v);
  if (!device.ok()) return absl::InvalidArgumentError(absl::StrCat("--device: ", device.status().message()));
  spec.devices.push_back(*device);
  if (absl::Status unique = runtime::ValidateDevices(spec.devices); !unique.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--device: ", unique.message()));
  }
  return absl::OkStatus();
}

absl::Status ApplyUserns(RunOptions& options, const std::string&, const std::string& v) {
  runtime::ContainerSpec& spec = options.spec;
  std::vector<std::string> parts = absl::StrSplit(v, ':');
  uint64_t host = 0, count = 0;
  if (parts.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("--userns: \"", v, "\" is not HOSTUID:COUNT"));
  }
  RETURN_IF_ERROR(ParseUint("--userns", parts[0], 1, 4294967294u, &host));
  RETURN_IF_ERROR(ParseUint("--userns", parts[1], 1, 4294967295u - host, &count));
  runtime::IdMapping map{0, static_cast<uint32_t>(host), static_cast<uint32_t>(count)};
  spec.namespaces |= CLONE_NEWUSER;
  spec.uid_map = {map};
  spec.gid_map = {map};
  spec.idmap_rootfs = true;
  options.explicit_userns = true;
  return absl::OkStatus();
}

// The options whose handler is one or two lines. `S` for the option's spelling and value.
using S = const std::string&;
absl::Status SetBoot(RunOptions& o, S, S) { o.spec.init = runtime::InitMode::kBoot; return absl::OkStatus(); }
absl::Status SetInit(RunOptions& o, S, S) { o.spec.init = runtime::InitMode::kTinyInit; return absl::OkStatus(); }
absl::Status SetTty(RunOptions& o, S, S) { o.spec.tty = true; return absl::OkStatus(); }
absl::Status SetNoSeccomp(RunOptions& o, S, S) { o.spec.seccomp = false; return absl::OkStatus(); }
absl::Status SetPrivileged(RunOptions& o, S, S) { o.privileged = true; return absl::OkStatus(); }
absl::Status SetPrintPhases(RunOptions& o, S, S) { o.print_phases = true; return absl::OkStatus(); }
absl::Status SetRootfs(RunOptions& o, S, S v) { o.spec.rootfs = v; return absl::OkStatus(); }
absl::Status SetImage(RunOptions& o, S, S v) { o.image = v; return absl::OkStatus(); }
absl::Status SetCwd(RunOptions& o, S, S v) { o.spec.cwd = v; return absl::OkStatus(); }
// Checked by corrald (dbus/restart_policy.h), one place for its words.
absl::Status SetRestart(RunOptions& o, S, S v) { o.restart = v; return absl::OkStatus(); }

absl::Status ApplyName(RunOptions& o, S, S v) {
  RETURN_IF_ERROR(runtime::ValidateContainerName(v));
  o.spec.name = v;
  o.named = true;
  return absl::OkStatus();
}

absl::Status ApplyHostname(RunOptions& o, S, S v) {
  RETURN_IF_ERROR(runtime::ValidateHostname(v));
  o.spec.hostname = v;
  return absl::OkStatus();
}

absl::Status ApplyNet(RunOptions& o, S, S v) {
  ASSIGN_OR_RETURN(o.net, ParseNetMode(v));
  return absl::OkStatus();
}

absl::Status ApplyPids(RunOptions& o, S, S v) {
  uint64_t n = 0;
  RETURN_IF_ERROR(ParseUint("--pids", v, 1, 4194304, &n));
  o.pids = n;
  return absl::OkStatus();
}

absl::Status ApplyCpuWeight(RunOptions& o, S, S v) {
  uint64_t n = 0;
  RETURN_IF_ERROR(ParseUint("--cpu-weight", v, 1, 10000, &n));
  o.cpu_weight = n;
  return absl::OkStatus();
}

absl::Status ApplyBind(RunOptions& o, S, S v) {
  ASSIGN_OR_RETURN(runtime::BindSpec bind, runtime::ParseBindSpec(v));
  o.spec.binds.push_back(bind);
  return absl::OkStatus();
}

absl::Status ApplyTmpfs(RunOptions& o, S, S v) {
  ASSIGN_OR_RETURN(runtime::TmpfsSpec tmpfs, runtime::ParseTmpfsSpec(v));
  o.spec.tmpfs.push_back(tmpfs);
  return absl::OkStatus();
}

absl::Status ApplyVolume(RunOptions& o, S, S v) {
  ASSIGN_OR_RETURN(runtime::VolumeMountSpec volume, runtime::ParseVolumeMountSpec(v));
  o.volumes.push_back(volume);
  return absl::OkStatus();
}

// Every option but -h/--help (which ends the parse).
const std::vector<OptionEntry>& OptionTable() {
  constexpr std::optional<OptionsFor> kBoth = std::nullopt;
  static const std::vector<OptionEntry>* const kTable = new std::vector<OptionEntry>{
      {{"--boot"}, false, kBoth, SetBoot},
      {{"--init"}, false, kBoth, SetInit},
      {{"-t", "--tty"}, false, kBoth, SetTty},
      {{"--no-seccomp"}, false, kBoth, SetNoSeccomp},
      {{"--privileged"}, false, kBoth, SetPrivileged},
      {{"--print-phases"}, false, kBoth, SetPrintPhases},
      {{"--rootfs"}, true, OptionsFor::kRun, SetRootfs},
      {{"--image"}, true, OptionsFor::kCreate, SetImage},
      {{"--name"}, true, kBoth, ApplyName},
      {{"--hostname"}, true, kBoth, ApplyHostname},
      {{"--net"}, true, kBoth, ApplyNet},
      {{"-p", "--publish"}, true, kBoth, ApplyPublish},
      {{"--memory"}, true, kBoth, ApplyMemory},
      {{"--pids"}, true, kBoth, ApplyPids},
      {{"--cpu-weight"}, true, kBoth, ApplyCpuWeight},
      {{"--cpu-quota"}, true, kBoth, ApplyCpuQuota},
      {{"--restart"}, true, OptionsFor::kCreate, SetRestart},
      {{"-e", "--env"}, true, kBoth, ApplyEnv},
      {{"--cwd"}, true, kBoth, SetCwd},
      {{"--user"}, true, kBoth, ApplyUser},
      {{"--device"}, true, kBoth, ApplyDevice},
      {{"--bind"}, true, kBoth, ApplyBind},
      {{"--tmpfs"}, true, kBoth, ApplyTmpfs},
      {{"--volume"}, true, kBoth, ApplyVolume},
      {{"--userns"}, true, kBoth, ApplyUserns},
  };
  return *kTable;
}

const OptionEntry* FindOption(absl::string_view opt) {
  for (const OptionEntry& entry : OptionTable()) {
    for (absl::string_view name : entry.names) {
      if (name == opt) return &entry;
    }
  }
  return nullptr;
}

// Binds, tmpfs and volumes each take a target inside; two on one target would hide each other.
absl::Status CheckMountTargets(const RunOptions& options) {
  std::vector<std::string> targets;
  for (const runtime::BindSpec& b : options.spec.binds) {
    if (b.idmap && options.privileged) {
      return absl::InvalidArgumentError(absl::StrCat("--bind ", runtime::FormatBindSpec(b),
                                                     ": idmap needs a user namespace, and --privileged has none"));
    }
    targets.push_back(b.target);
  }
  for (const runtime::TmpfsSpec& t : options.spec.tmpfs) targets.push_back(t.target);
  for (const runtime::VolumeMountSpec& v : options.volumes) targets.push_back(v.target);
  absl::Status distinct = runtime::CheckDistinctTargets(targets);
  if (!distinct.ok()) return absl::InvalidArgumentError(absl::StrCat("--bind/--tmpfs/--volume: ", distinct.message()));
  return absl::OkStatus();
}

// The checks across options, once all are read; fills in the defaults that depend on others.
absl::Status CheckCombination(RunOptions& options, OptionsFor purpose) {
  runtime::ContainerSpec& spec = options.spec;
  if (options.privileged && options.explicit_userns) {
    return absl::InvalidArgumentError("--privileged and --userns exclude each other");
  }
  RETURN_IF_ERROR(CheckMountTargets(options));
  if (purpose == OptionsFor::kCreate && options.explicit_userns) {
    return absl::InvalidArgumentError("--userns: corrald gives every container its own range from the pool");
  }
  if (purpose == OptionsFor::kCreate) {
    if (options.image.empty()) return absl::InvalidArgumentError("--image is required (busybox, debian or a directory)");
    if (spec.command.empty()) spec.init = runtime::InitMode::kBoot;
  } else if (spec.rootfs.empty()) {
    return absl::InvalidArgumentError("--rootfs is required (see --help)");
  }
  if (spec.command.empty() && spec.init != runtime::InitMode::kBoot) {
    return absl::InvalidArgumentError("no command given: put it after `--` (see --help)");
  }
  if (!options.ports.empty() && options.net != NetMode::kBridge) {
    return absl::InvalidArgumentError("-p: port forwards need --net bridge");
  }
  if (absl::Status overlap = netcfg::CheckNoOverlap(options.ports); !overlap.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("-p: ", overlap.message()));
  }
  if (spec.name.empty()) spec.name = "corral";
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunOptions> ParseRunOptions(const std::vector<std::string>& args, OptionsFor purpose) {
  RunOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string opt = args[i];
    if (opt == "--") {
      options.spec.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    // "--opt=value" and "--opt value" are the same.
    std::string v;
    bool has_value = false;
    if (size_t eq = opt.find('='); absl::StartsWith(opt, "--") && eq != std::string::npos) {
      v = opt.substr(eq + 1);
      opt = opt.substr(0, eq);
      has_value = true;
    }
    if (opt == "-h" || opt == "--help") {
      options.show_help = true;
      return options;
    }
    const OptionEntry* entry = FindOption(opt);
    if (entry == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option \"", opt, "\" (see --help)"));
    }
    if (entry->only_for.has_value() && *entry->only_for != purpose) {
      // Named by the option, not by its value (corral-run --restart no said "unknown option \"no\"").
      return absl::InvalidArgumentError(absl::StrCat(
          opt, " is an option of ", *entry->only_for == OptionsFor::kRun ? "corral-run" : "corralctl create",
          " only (see --help)"));
    }
    if (entry->takes_value && !has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(opt, ": missing value"));
      v = args[++i];
    } else if (!entry->takes_value && has_value) {
      return absl::InvalidArgumentError(absl::StrCat(opt, " takes no value"));
    }
    RETURN_IF_ERROR(entry->apply(options, opt, v));
  }
  RETURN_IF_ERROR(CheckCombination(options, purpose));
  return options;
}

}  // namespace corral::tools
