// corral-run: runs one container in the foreground without the daemon (like lxc-execute) and
// exits with its command's status, 128+signal when it was killed.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "netcfg/attachment.h"
#include "netcfg/config.h"
#include "netcfg/network.h"
#include "netcfg/owner.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/controllers.h"
#include "runtime/child_error.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/devices.h"
#include "runtime/start_step.h"
#include "runtime/volume_store.h"
#include "runtime/idmap.h"
#include "runtime/userns.h"
#include "tools/run_options.h"

namespace corral::tools {
namespace {

// Exit statuses for failures before the command runs, as docker and podman use them.
constexpr int kExitStartFailed = 125;
constexpr int kExitNotExecutable = 126;
constexpr int kExitNotFound = 127;

// Signals a user may send corral-run that belong to the container instead.
constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

int Fail(absl::string_view message, int code = kExitStartFailed) {
  std::string line = absl::StrCat("corral-run: ", message, "\n");
  (void)!::write(2, line.data(), line.size());
  return code;
}

absl::StatusOr<UniqueFd> BlockForwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kForwardedSignals) sigaddset(&set, sig);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return ErrnoError("sigprocmask");
  UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) return ErrnoError("signalfd");
  return fd;
}

// Reads pending signals and passes them on to the container; a window size change goes to
// `pty` (the console's or the relay's master, from the terminal `tty`).
void ForwardSignals(int signal_fd, runtime::Container& container, int tty = 0, int pty = -1) {
  struct signalfd_siginfo info;
  while (::read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGWINCH) {
      if (container.console_master() >= 0) runtime::CopyWindowSize(0, container.console_master());
      if (pty >= 0) runtime::CopyWindowSize(tty, pty);
      continue;
    }
    container.Signal(sig).IgnoreError();  // it may be exiting already
  }
}

// --net bridge for one foreground container, as a start step (netcfg/attachment.h): the host
// side is made sure of before the start, the container's side wired after clone and before the
// command runs, and undone (the lease given back) when the container has exited.
// The configuration is $CORRAL_NETWORK_CONFIG, else /etc/corral/network.conf.
absl::StatusOr<std::unique_ptr<netcfg::BridgeAttachment>> MakeBridgeStep(const RunOptions& options) {
  const char* path = std::getenv("CORRAL_NETWORK_CONFIG");
  netcfg::BridgeAttachment::Options bridge;
  bridge.config_path = path != nullptr && *path != '\0' ? path : netcfg::kDefaultNetworkConfigPath;
  // Without --name every run is its own container, as with `docker run`, named after this
  // process so that its lease outlives nothing: pid, start time and boot id together (a
  // recycled pid or a reboot cannot pass for it).
  if (options.named) {
    bridge.container = options.spec.name;
  } else {
    ASSIGN_OR_RETURN(netcfg::ProcessIdentity self, netcfg::IdentifyProcess(::getpid()));
    bridge.container = netcfg::RunLeaseName(self);
  }
  bridge.ports = options.ports;
  bridge.keep_address = false;
  return std::make_unique<netcfg::BridgeAttachment>(std::move(bridge));
}

// What corral-runs killed before their teardown left (their leases, forwards, veths), freed
// before this one allocates; said on stderr. A failure is only a warning: the start goes on
// and fails itself if the leases cannot be read. With forwards of its own to add, libnftables
// is loaded anyway and the maps are checked too.
void ReclaimDeadRuns(netcfg::BridgeNetwork& network, bool scan_forwards) {
  absl::StatusOr<netcfg::BridgeNetwork::Reclaimed> reclaimed =
      network.Reclaim(netcfg::JudgeLeaseForRun, {/*scan_forwards=*/scan_forwards});
  if (!reclaimed.ok()) {
    Fail(absl::StrCat("warning: reclaiming the network of dead runs: ", reclaimed.status().message()));
    return;
  }
  // Leases and forwards only: a veth or run directory alone may just be an earlier run's
  // that the kernel or its teardown is still removing, not worth a line on the terminal.
  reclaimed->links.clear();
  reclaimed->run_dirs.clear();
  for (const std::string& line : reclaimed->Describe()) Fail(absl::StrCat("reclaimed: ", line));
}

// --memory, --pids, --cpu-weight, and a --device with access less than rwm: corral-run runs
// itself again under `systemd-run --scope`, in a transient scope corral-run-NAME-PID.scope
// (machine.slice, Delegate=yes, the limits, DevicePolicy=closed with the container's
// DeviceAllow= list) that the container inherits.
// systemd's own tool rather than a bus client here: it keeps libsystemd out of every
// corral-run that asks for no limits, where start-up time matters.
constexpr char kScopedMarker[] = "CORRAL_RUN_IN_SCOPE";

// A --device limited to less than rwm: only a device cgroup enforces the access letters (a
// bind mount of a node opens for writing even when read-only), and corral-run has a cgroup
// of its own only in its scope.
bool HasRestrictedDevice(const RunOptions& options) {
  for (const runtime::DeviceSpec& d : options.spec.devices) {
    if (d.access != "rwm") return true;
  }
  return false;
}

// corrald's rule for corral-run too: a limit this host's cgroups have no controller for would be
// taken by systemd-run and not be in force, so it is refused by name before anything is made.
absl::Status CheckLimitsEnforceable(const RunOptions& options) {
  const struct {
    const char* flag;
    bool asked;
    const char* controller;
  } wanted[] = {{"--memory", options.memory_bytes.has_value(), "memory"},
                {"--pids", options.pids.has_value(), "pids"},
                {"--cpu-weight", options.cpu_weight.has_value(), "cpu"},
                {"--cpu-quota", options.cpu_quota_percent.has_value(), "cpu"}};
  const runtime::LimitControllers host = runtime::ReadLimitControllers();
  for (const auto& limit : wanted) {
    if (!limit.asked) continue;
    if (absl::Status enforceable = runtime::RequireController(host, limit.flag, limit.controller); !enforceable.ok()) {
      return enforceable;
    }
  }
  return absl::OkStatus();
}

int ReexecInScope(const RunOptions& options, char** argv) {
  if (::access("/run/systemd/system", F_OK) != 0) {
    if (HasRestrictedDevice(options)) {
      return Fail("--device with access other than rwm is enforced by the device cgroup of a systemd scope, and this "
                  "system does not run systemd (give the device as rwm, or leave it out)");
    }
    return Fail("--memory, --pids and --cpu-weight are enforced through a systemd scope, and this system does not "
                "run systemd");
  }
  std::vector<std::string> args = {"/usr/bin/systemd-run", "--quiet", "--scope", "--collect", absl::StrCat("--slice=", runtime::kMachineSlice),
                                   absl::StrCat("--unit=corral-run-", options.spec.name, "-", ::getpid()),
                                   "--description=corral-run " + options.spec.name, "-p", "Delegate=yes"};
  if (options.memory_bytes) args.insert(args.end(), {"-p", absl::StrCat("MemoryMax=", *options.memory_bytes)});
  if (options.pids) args.insert(args.end(), {"-p", absl::StrCat("TasksMax=", *options.pids)});
  if (options.cpu_weight) args.insert(args.end(), {"-p", absl::StrCat("CPUWeight=", *options.cpu_weight)});
  if (options.cpu_quota_percent) args.insert(args.end(), {"-p", absl::StrCat("CPUQuota=", *options.cpu_quota_percent, "%")});
  // The scope is the container's cgroup: the same device allow-list as corrald's scopes.
  args.insert(args.end(), {"-p", "DevicePolicy=closed"});
  for (const auto& [node, access] : runtime::SystemdDeviceAllow(options.spec.devices)) {
    args.insert(args.end(), {"-p", absl::StrCat("DeviceAllow=", node, " ", access)});
  }
  args.push_back("--");
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return Fail("readlink /proc/self/exe");
  args.emplace_back(self, n);
  for (char** a = argv + 1; *a != nullptr; ++a) args.emplace_back(*a);
  std::vector<char*> exec_args;
  for (std::string& a : args) exec_args.push_back(a.data());
  exec_args.push_back(nullptr);
  ::setenv(kScopedMarker, "1", 1);
  ::execv(exec_args[0], exec_args.data());
  return Fail(absl::StrCat("run systemd-run for the scope that enforces the limits: ", std::strerror(errno)));
}

// The run's block of host ids, taken from the pool for this process and given back when the
// run ends (a corral-run killed with SIGKILL leaves it behind; the next allocation reclaims
// it, since the owner key names this pid and its start time).
class IdLease {
 public:
  static absl::StatusOr<std::unique_ptr<IdLease>> Take() {
    ASSIGN_OR_RETURN(runtime::IdPoolConfig config, runtime::LoadIdPoolConfig(runtime::IdPoolConfigPath()));
    std::unique_ptr<IdLease> lease(new IdLease(std::move(config)));
    ASSIGN_OR_RETURN(lease->owner_, runtime::RunOwner(::getpid()));
    ASSIGN_OR_RETURN(runtime::IdAllocation allocation, lease->pool_.Allocate(lease->owner_));
    lease->base_ = allocation.base;
    return lease;
  }
  ~IdLease() {
    if (absl::Status released = pool_.Release(owner_); !released.ok()) {
      std::string line = absl::StrCat("corral-run: ", released.message(), "\n");
      (void)!::write(2, line.data(), line.size());
    }
  }
  uint32_t base() const { return base_; }

 private:
  explicit IdLease(runtime::IdPoolConfig config) : pool_(std::move(config)) {}
  runtime::IdPool pool_;
  std::string owner_;
  uint32_t base_ = 0;
};

// Without -t, a terminal among our stdio (the admin's, most often) is never handed to the
// container: a process of it could change that terminal's modes and line discipline, or stay
// behind reading it once we are gone (TIOCSTI is the kernel's to refuse). Each of stdin,
// stdout and stderr that is a terminal becomes the slave of a fresh pty of ours, which we relay;
// pipes and files are given as they are. The caller's terminal keeps its own mode (cooked,
// usually): its line discipline edits lines and makes Ctrl-C our SIGINT, forwarded to the
// container. Our pty passes bytes through (no echo, signals or output processing: the caller's
// terminal does those) but stays canonical, so the caller's end of input can be passed on as EOF.
class TerminalRelay {
 public:
  // Null when none of 0, 1, 2 is a terminal. Points `start`'s stdio at the slave.
  static absl::StatusOr<std::unique_ptr<TerminalRelay>> Prepare(runtime::StartOptions& start) {
    bool tty[3];
    int tty_fd = -1;
    for (int i = 2; i >= 0; --i) {
      tty[i] = ::isatty(i) == 1;
      if (tty[i]) tty_fd = i;
    }
    if (tty_fd < 0) return nullptr;
    std::unique_ptr<TerminalRelay> relay(new TerminalRelay);
    ASSIGN_OR_RETURN(runtime::Pty pty, runtime::OpenPty());
    struct termios attrs;
    if (::tcgetattr(pty.slave.get(), &attrs) != 0) return ErrnoError("tcgetattr the container's pty");
    attrs.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL | ISIG | IEXTEN);
    attrs.c_lflag |= ICANON;
    attrs.c_oflag &= ~static_cast<tcflag_t>(OPOST);
    attrs.c_cc[VERASE] = attrs.c_cc[VKILL] = _POSIX_VDISABLE;
    if (::tcsetattr(pty.slave.get(), TCSANOW, &attrs) != 0) return ErrnoError("tcsetattr the container's pty");
    relay->eof_ = static_cast<char>(attrs.c_cc[VEOF]);
    runtime::CopyWindowSize(tty_fd, pty.master.get());
    int flags = ::fcntl(pty.master.get(), F_GETFL);
    if (flags < 0 || ::fcntl(pty.master.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
      return ErrnoError("make the pty master non-blocking");
    }
    relay->master_ = std::move(pty.master);
    relay->slave_ = std::move(pty.slave);
    relay->tty_fd_ = tty_fd;
    relay->input_open_ = tty[0];
    relay->out_fd_ = tty[1] ? 1 : tty[2] ? 2 : 0;
    for (int i = 0; i < 3; ++i) {
      if (tty[i]) start.stdio[i] = relay->slave_.get();
    }
    return relay;
  }

  // The container has the slave now: ours goes, so the master reads EIO once all its are gone.
  void Started() { slave_.reset(); }

  // Relays until the container's PID 1 has exited, forwarding signals meanwhile; then copies
  // only what is buffered (a process left behind that keeps writing cannot hold us).
  absl::Status Run(runtime::Container& container, int signal_fd) {
    for (;;) {
      struct pollfd fds[4] = {{container.pidfd(), POLLIN, 0}, {signal_fd, POLLIN, 0}, {-1, 0, 0}, {-1, 0, 0}};
      if (master_) fds[2] = {master_.get(), static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0};
      if (master_ && input_open_ && pending_.empty()) fds[3] = {0, POLLIN, 0};
      if (::poll(fds, 4, -1) < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("poll");
      }
      if (fds[1].revents & POLLIN) ForwardSignals(signal_fd, container, tty_fd_, master_.get());
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) PumpOutput(SIZE_MAX);
      if (master_ && !pending_.empty() && (fds[2].revents & POLLOUT)) FlushInput();
      if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) PumpInput();
      if (fds[0].revents & POLLIN) break;
    }
    int buffered = 0;
    if (master_ && ::ioctl(master_.get(), FIONREAD, &buffered) == 0 && buffered > 0) {
      PumpOutput(static_cast<size_t>(buffered));
    }
    return absl::OkStatus();
  }

 private:
  TerminalRelay() = default;

  // The caller's terminal gives a line at a time, or what was typed before Ctrl-D (no newline
  // at the end), or nothing at its end of input: the last two are pushed through our canonical
  // pty with its EOF character, as the caller's terminal did.
  void PumpInput() {
    char buffer[4096];
    ssize_t n = ::read(0, buffer, sizeof(buffer));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      input_open_ = false;
      pending_.push_back(eof_);
    } else {
      pending_.append(buffer, static_cast<size_t>(n));
      if (buffer[n - 1] != '\n') pending_.push_back(eof_);
    }
    FlushInput();
  }

  void FlushInput() {
    while (!pending_.empty()) {
      ssize_t n = ::write(master_.get(), pending_.data(), pending_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {  // the pty is gone: nothing more to give it
        pending_.clear();
        input_open_ = false;
        return;
      }
      pending_.erase(0, static_cast<size_t>(n));
    }
  }

  void PumpOutput(size_t budget) {
    char buffer[16384];
    while (budget > 0) {
      ssize_t n = ::read(master_.get(), buffer, std::min(sizeof(buffer), budget));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {  // EIO: every slave is closed
        master_.reset();
        return;
      }
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(out_fd_, buffer + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;  // our terminal is gone: the container's output has nowhere to go
        done += w;
      }
      budget -= static_cast<size_t>(n);
    }
  }

  UniqueFd master_;
  UniqueFd slave_;
  int tty_fd_ = 0;
  int out_fd_ = 1;
  bool input_open_ = false;
  char eof_ = 4;
  std::string pending_;
};

absl::Status Supervise(runtime::Container& container, int signal_fd, TerminalRelay* relay) {
  if (relay != nullptr) return relay->Run(container, signal_fd);
  if (container.console_master() >= 0) {
    runtime::CopyWindowSize(0, container.console_master());
    runtime::RawTerminal raw(0);
    runtime::RelayOptions relay;
    relay.stop_fd = signal_fd;
    for (;;) {
      ASSIGN_OR_RETURN(runtime::RelayEnd end, runtime::RelayConsole(container.console_master(), 0, 1, relay));
      if (end != runtime::RelayEnd::kStopped) break;
      ForwardSignals(signal_fd, container);
    }
    return absl::OkStatus();
  }
  for (;;) {
    struct pollfd fds[2] = {{container.pidfd(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("poll");
    }
    if (fds[1].revents & POLLIN) ForwardSignals(signal_fd, container);
    if (fds[0].revents & POLLIN) return absl::OkStatus();
  }
}

// The spec's namespaces and id maps from the options, validated; a pooled run's block of ids
// taken into `*ids` (kept until the run ends).
absl::Status PrepareIdentity(RunOptions& options, std::unique_ptr<IdLease>* ids) {
  runtime::ContainerSpec& spec = options.spec;
  if (options.net == NetMode::kHost) spec.namespaces &= ~static_cast<uint64_t>(CLONE_NEWNET);
  // Bad specs are refused before anything of the pool or the network is touched (the maps are
  // filled in below; a placeholder stands in for the check).
  const bool pooled = !options.privileged && !options.explicit_userns;
  if (pooled) {
    spec.namespaces |= CLONE_NEWUSER;
    spec.uid_map = spec.gid_map = runtime::BlockMap(runtime::kIdBlockSize);
    spec.idmap_rootfs = true;
  }
  RETURN_IF_ERROR(runtime::ValidateSpec(spec));
  if (pooled) {
    ASSIGN_OR_RETURN(*ids, IdLease::Take());
    spec.uid_map = spec.gid_map = runtime::BlockMap((*ids)->base());
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<RunOptions> parsed = ParseRunOptions(args);
  if (!parsed.ok()) return Fail(parsed.status().message());
  RunOptions& options = *parsed;
  if (options.show_help) {
    std::string usage = RunUsage();
    (void)!::write(1, usage.data(), usage.size());
    return 0;
  }
  if (::geteuid() != 0) {
    return Fail("must run as root: creating namespaces and mounts needs CAP_SYS_ADMIN (try sudo)");
  }
  if ((options.memory_bytes || options.pids || options.cpu_weight || options.cpu_quota_percent ||
       HasRestrictedDevice(options)) &&
      ::getenv(kScopedMarker) == nullptr) {
    if (absl::Status enforceable = CheckLimitsEnforceable(options); !enforceable.ok()) {
      return Fail(enforceable.message());
    }
    return ReexecInScope(options, argv);
  }
  ::unsetenv(kScopedMarker);  // not for the container's environment
  runtime::ContainerSpec& spec = options.spec;
  std::unique_ptr<IdLease> ids;
  if (absl::Status identity = PrepareIdentity(options, &ids); !identity.ok()) return Fail(identity.message());
  // Named volumes, from the store corrald's `corralctl volume create` fills.
  std::vector<UniqueFd> volume_trees;
  if (absl::Status volumes = runtime::AddVolumeBinds(runtime::VolumeStore(runtime::DefaultVolumesDir()),
                                                     options.volumes, &spec, &volume_trees);
      !volumes.ok()) {
    return Fail(volumes.message());
  }
  runtime::StartSteps steps;
  std::unique_ptr<netcfg::BridgeAttachment> bridge;
  if (options.net == NetMode::kBridge) {
    absl::StatusOr<std::unique_ptr<netcfg::BridgeAttachment>> made = MakeBridgeStep(options);
    if (!made.ok()) return Fail(made.status().message());
    bridge = std::move(*made);
    steps.Add(bridge.get());
  }
  if (absl::Status prepared = steps.Prepare(spec); !prepared.ok()) return Fail(prepared.message());
  if (bridge != nullptr) ReclaimDeadRuns(bridge->network(), !options.ports.empty());

  absl::StatusOr<UniqueFd> signal_fd = BlockForwardedSignals();
  if (!signal_fd.ok()) return Fail(signal_fd.status().message());

  runtime::PhaseTimer timer;
  runtime::StartOptions start;
  start.timer = &timer;
  start.steps = &steps;
  std::unique_ptr<TerminalRelay> relay;
  if (!spec.tty) {
    absl::StatusOr<std::unique_ptr<TerminalRelay>> prepared = TerminalRelay::Prepare(start);
    if (!prepared.ok()) return Fail(prepared.status().message());
    relay = std::move(*prepared);
  }
  absl::StatusOr<runtime::Container> container = runtime::Container::Start(spec, start);
  if (relay != nullptr) relay->Started();
  if (options.print_phases) {
    for (const auto& [phase, ns] : timer.phases()) {
      std::string name(runtime::PhaseName(phase));
      ::fprintf(stderr, "corral-run: phase %-16s %8.3f ms\n", name.c_str(), static_cast<double>(ns) / 1e6);
    }
  }
  if (!container.ok()) {
    steps.Undo().IgnoreError();  // the child is gone already
    const absl::Status& status = container.status();
    if (runtime::IsExecFailure(status)) {
      return Fail(status.message(), status.code() == absl::StatusCode::kNotFound ? kExitNotFound : kExitNotExecutable);
    }
    return Fail(status.message());
  }
  if (absl::Status supervised = Supervise(*container, signal_fd->get(), relay.get()); !supervised.ok()) {
    container->Signal(SIGKILL).IgnoreError();
    Fail(supervised.message());
  }
  absl::StatusOr<int> exit_status = container->Wait();
  if (absl::Status undone = steps.Undo(); !undone.ok()) Fail(undone.message());
  if (!exit_status.ok()) return Fail(exit_status.status().message());
  return *exit_status;
}

}  // namespace
}  // namespace corral::tools

int main(int argc, char** argv) { return corral::tools::Main(argc, argv); }
