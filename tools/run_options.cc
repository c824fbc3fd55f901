#include "tools/run_options.h"

#include <sched.h>

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

absl::StatusOr<RunOptions> ParseRunOptions(const std::vector<std::string>& args, OptionsFor purpose) {
  RunOptions options;
  runtime::ContainerSpec& spec = options.spec;
  static constexpr const char* kWithValue[] = {"--rootfs", "--image", "--name", "--hostname", "--net", "-p", "--publish",
                                               "--memory", "--pids", "--cpu-weight", "-e", "--env",
                                               "--cwd", "--user", "--userns", "--device", "--bind", "--tmpfs",
                                               "--volume", "--cpu-quota", "--restart"};
  for (size_t i = 0; i < args.size(); ++i) {
    std::string opt = args[i];
    if (opt == "--") {
      spec.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
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
    bool takes_value = false;
    for (const char* name : kWithValue) takes_value |= opt == name;
    if (takes_value && !has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(opt, ": missing value"));
      v = args[++i];
    } else if (!takes_value && has_value) {
      return absl::InvalidArgumentError(absl::StrCat(opt, " takes no value"));
    }

    if (opt == "-h" || opt == "--help") {
      options.show_help = true;
      return options;
    } else if (opt == "--boot") {
      spec.init = runtime::InitMode::kBoot;
    } else if (opt == "--init") {
      spec.init = runtime::InitMode::kTinyInit;
    } else if (opt == "-t" || opt == "--tty") {
      spec.tty = true;
    } else if (opt == "--no-seccomp") {
      spec.seccomp = false;
    } else if (opt == "--privileged") {
      options.privileged = true;
    } else if (opt == "--print-phases") {
      options.print_phases = true;
    } else if (opt == "--rootfs" && purpose == OptionsFor::kRun) {
      spec.rootfs = v;
    } else if (opt == "--image" && purpose == OptionsFor::kCreate) {
      options.image = v;
    } else if (opt == "--name") {
      RETURN_IF_ERROR(runtime::ValidateContainerName(v));
      spec.name = v;
      options.named = true;
    } else if (opt == "--hostname") {
      RETURN_IF_ERROR(runtime::ValidateHostname(v));
      spec.hostname = v;
    } else if (opt == "--net") {
      ASSIGN_OR_RETURN(options.net, ParseNetMode(v));
    } else if (opt == "-p" || opt == "--publish") {
      absl::StatusOr<netcfg::PortForward> forward = netcfg::ParsePortForward(v);
      if (!forward.ok()) return absl::InvalidArgumentError(absl::StrCat(opt, ": ", forward.status().message()));
      options.ports.push_back(*forward);
    } else if (opt == "--memory") {
      uint64_t bytes = 0;
      absl::Status parsed = runtime::ParseByteSize(v, &bytes);
      if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("--memory: ", parsed.message()));
      if (bytes < (uint64_t{4} << 20)) return absl::InvalidArgumentError("--memory: at least 4M is needed");
      options.memory_bytes = bytes;
    } else if (opt == "--pids") {
      uint64_t n = 0;
      RETURN_IF_ERROR(ParseUint("--pids", v, 1, 4194304, &n));
      options.pids = n;
    } else if (opt == "--cpu-weight") {
      uint64_t n = 0;
      RETURN_IF_ERROR(ParseUint("--cpu-weight", v, 1, 10000, &n));
      options.cpu_weight = n;
    } else if (opt == "--cpu-quota") {
      std::string percent = absl::EndsWith(v, "%") ? v.substr(0, v.size() - 1) : v;
      uint64_t n = 0;
      RETURN_IF_ERROR(ParseUint("--cpu-quota", percent, 1, 100000, &n));
      options.cpu_quota_percent = n;
    } else if (opt == "--restart" && purpose == OptionsFor::kCreate) {
      options.restart = v;  // checked by corrald (dbus/restart_policy.h), one place for its words
    } else if (opt == "-e" || opt == "--env") {
      if (v.find('=') == std::string::npos || v[0] == '=') {
        return absl::InvalidArgumentError(absl::StrCat(opt, ": \"", v, "\" is not KEY=VALUE"));
      }
      spec.env.push_back(v);
    } else if (opt == "--cwd") {
      spec.cwd = v;
    } else if (opt == "--user") {
      std::vector<std::string> parts = absl::StrSplit(v, ':');
      uint64_t uid = 0, gid = 0;
      if (parts.size() > 2) return absl::InvalidArgumentError(absl::StrCat("--user: \"", v, "\" is not UID[:GID]"));
      RETURN_IF_ERROR(ParseUint("--user", parts[0], 0, 4294967294u, &uid));
      gid = uid;
      if (parts.size() == 2) RETURN_IF_ERROR(ParseUint("--user", parts[1], 0, 4294967294u, &gid));
      spec.uid = static_cast<uid_t>(uid);
      spec.gid = static_cast<gid_t>(gid);
    } else if (opt == "--device") {
      absl::StatusOr<runtime::DeviceSpec> device = runtime::ParseDeviceSpec(v);
      if (!device.ok()) return absl::InvalidArgumentError(absl::StrCat("--device: ", device.status().message()));
      spec.devices.push_back(*device);
      if (absl::Status unique = runtime::ValidateDevices(spec.devices); !unique.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--device: ", unique.message()));
      }
    } else if (opt == "--bind") {
      ASSIGN_OR_RETURN(runtime::BindSpec bind, runtime::ParseBindSpec(v));
      spec.binds.push_back(bind);
    } else if (opt == "--tmpfs") {
      ASSIGN_OR_RETURN(runtime::TmpfsSpec tmpfs, runtime::ParseTmpfsSpec(v));
      spec.tmpfs.push_back(tmpfs);
    } else if (opt == "--volume") {
      ASSIGN_OR_RETURN(runtime::VolumeMountSpec volume, runtime::ParseVolumeMountSpec(v));
      options.volumes.push_back(volume);
    } else if (opt == "--userns") {
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
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option \"", args[i], "\" (see --help)"));
    }
  }
  if (options.privileged && options.explicit_userns) {
    return absl::InvalidArgumentError("--privileged and --userns exclude each other");
  }
  {
    std::vector<std::string> targets;
    for (const runtime::BindSpec& b : spec.binds) {
      if (b.idmap && options.privileged) {
        return absl::InvalidArgumentError(absl::StrCat("--bind ", runtime::FormatBindSpec(b),
                                                       ": idmap needs a user namespace, and --privileged has none"));
      }
      targets.push_back(b.target);
    }
    for (const runtime::TmpfsSpec& t : spec.tmpfs) targets.push_back(t.target);
    for (const runtime::VolumeMountSpec& v : options.volumes) targets.push_back(v.target);
    absl::Status distinct = runtime::CheckDistinctTargets(targets);
    if (!distinct.ok()) return absl::InvalidArgumentError(absl::StrCat("--bind/--tmpfs/--volume: ", distinct.message()));
  }
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
  return options;
}

}  // namespace corral::tools
