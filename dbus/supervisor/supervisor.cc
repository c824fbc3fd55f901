#include "dbus/supervisor/supervisor.h"
#include "dbus/supervisor/supervisor_main.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fd_passing.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "dbus/console_output.h"
#include "dbus/journal_log.h"
#include "dbus/supervisor/console_server.h"
#include "dbus/supervisor/exec.h"
#include "dbus/supervisor/protocol.h"
#include "dbus/supervisor/state_file.h"
#include "netcfg/attachment.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/placement.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/devices.h"
#include "runtime/overlay_rootfs.h"
#include "runtime/storage_spec.h"
#include "runtime/volume_store.h"
#include "runtime/phase_timer.h"
#include "runtime/spec.h"
#include "runtime/userns.h"

namespace corral::dbus {

namespace {

// Sets owner and mode of `path` unless they are so already.
absl::Status ChmodIfNeeded(const std::string& path, mode_t mode, uid_t uid, gid_t gid) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(absl::StrCat("stat ", path));
  if ((st.st_uid != uid || st.st_gid != gid) && ::chown(path.c_str(), uid, gid) != 0) {
    return ErrnoError(absl::StrCat("chown ", path));
  }
  if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0) return ErrnoError(absl::StrCat("chmod ", path));
  return absl::OkStatus();
}

// ---- the supervisor process ----

class Supervisor {
 public:
  Supervisor(const SupervisorLaunch& launch, int report_fd, int exec_requests)
      : launch_(launch), report_fd_(report_fd), exec_requests_(exec_requests) {}

  // Runs the whole life of the container; returns the process exit code.
  int Run(int go_fd);

 private:
  absl::Status PrepareBeforeScope();
  absl::Status PrepareInScope();
  absl::Status PrepareRunDir();
  absl::Status EnterSupervisorLeaf();
  absl::Status MountRootfs();
  absl::Status AddStorage(runtime::ContainerSpec& spec, std::vector<UniqueFd>* volume_trees);
  absl::Status AddBoot(runtime::ContainerSpec& spec);
  absl::Status PrepareSteps(runtime::ContainerSpec& spec);
  absl::Status Start();
  absl::Status ListenForNotify();
  void ReadNotify();
  void Serve();
  void ServeExec();
  // False when part of it failed (a full disk refused the leases file): the supervisor then
  // exits 2, and corrald reconciles the network after it (and retries until that succeeds).
  bool Cleanup();
  // Cleanup() of a start that did not come through, and the layer directories it made.
  void UndoFailedStart();
  template <typename Message>
  void Report(const Message& message);
  void Log(absl::string_view message);

  // Whether the container runs in its own user namespace, and the host id of its root.
  bool userns() const { return !launch_.config.privileged; }
  uint32_t base() const { return launch_.config.uid_base; }

  const SupervisorLaunch& launch_;
  int report_fd_;
  UniqueFd exec_requests_;  // corrald's exec requests (exec.h), until it goes away
  UniqueFd payload_cgroup_;  // the payload leaf, where the commands of execs are born
  std::optional<runtime::OverlayRootfs> rootfs_;
  // The start steps (runtime/start_step.h), undone at Cleanup.
  std::optional<runtime::CgroupPlacement> placement_;
  std::optional<netcfg::BridgeAttachment> network_;
  runtime::StartSteps steps_;
  std::optional<runtime::Container> container_;
  ConsoleServer console_;
  UniqueFd notify_;  // the booted init's NOTIFY_SOCKET: READY=1 when its boot is done
  // What the container writes to its console, into the journal (dbus/journal_log.h).
  std::optional<ConsoleJournal> journal_;
  // A command container's stdout and stderr (dbus/console_output.h); a booted one's go to the pty.
  std::optional<ConsoleOutput> output_;
  bool ready_reported_ = false;
  bool made_layers_ = false;  // MountRootfs made upper and work (the container's first start)
  // Where this start's time goes, reported to corrald before "ok" (its StartPhases property).
  runtime::PhaseTimer timer_;
};

template <typename Message>
void Supervisor::Report(const Message& message) {
  std::string text = absl::StrCat(FormatReport(message), "\n");
  (void)!::write(report_fd_, text.data(), text.size());  // corrald may be gone: fine
}

void Supervisor::Log(absl::string_view message) {
  std::string text = absl::StrCat("corral-supervisor[", launch_.config.name, "]: ", message, "\n");
  (void)!::write(2, text.data(), text.size());
}

absl::Status Supervisor::EnterSupervisorLeaf() {
  ASSIGN_OR_RETURN(runtime::Cgroup scope, runtime::Cgroup::Of(0));
  // Processes only in leaves: the delegated scope itself holds none (cgroup2's rule once
  // controllers are enabled below it, and what the container's own systemd expects).
  ASSIGN_OR_RETURN(runtime::Cgroup supervisor, scope.MakeLeaf("supervisor"));
  ASSIGN_OR_RETURN(runtime::Cgroup payload, scope.MakeLeaf("payload"));
  // Delegated to the container's root; the scope's own files (its limits) stay root's.
  if (userns()) RETURN_IF_ERROR(payload.Delegate(base(), base()));
  placement_.emplace(std::move(payload));
  return Annotate(supervisor.Enter(0), "move the supervisor into its leaf");
}

absl::Status Supervisor::MountRootfs() {
  const ContainerPaths& paths = launch_.paths;
  runtime::OverlayRootfsSpec overlay;
  overlay.image_rootfs = launch_.config.image_rootfs;
  overlay.image_layers = launch_.config.image_layers;
  overlay.upper = paths.lib_dir + "/upper";
  overlay.work = paths.lib_dir + "/work";
  overlay.target = paths.rootfs();
  overlay.uid_base = userns() ? base() : 0;
  overlay.scratch = paths.run_dir;
  overlay.timer = &timer_;
  struct stat existing;
  made_layers_ = ::lstat(overlay.upper.c_str(), &existing) != 0;  // a first start: undone if it fails
  for (const std::string& dir : {overlay.upper, overlay.work, overlay.target}) RETURN_IF_ERROR(MakeDirectories(dir, 0755));
  ASSIGN_OR_RETURN(rootfs_, runtime::OverlayRootfs::Mount(overlay));
  return absl::OkStatus();
}

// Devices, binds, tmpfs and volumes, as the host has them now; the volumes' fds are held in
// `volume_trees` until the container has started.
absl::Status Supervisor::AddStorage(runtime::ContainerSpec& spec, std::vector<UniqueFd>* volume_trees_out) {
  const ContainerConfig& config = launch_.config;
  std::vector<UniqueFd>& volume_trees = *volume_trees_out;
  for (const std::string& text : config.devices) {  // the host's node, as it is now
    ASSIGN_OR_RETURN(runtime::DeviceSpec device, runtime::ParseDeviceSpec(text));
    spec.devices.push_back(device);
  }
  for (const std::string& text : config.binds) {  // the host path, as it is now (runtime/binds.h)
    ASSIGN_OR_RETURN(runtime::BindSpec bind, runtime::ParseBindSpec(text));
    spec.binds.push_back(bind);
  }
  for (const std::string& text : config.tmpfs) {
    ASSIGN_OR_RETURN(runtime::TmpfsSpec tmpfs, runtime::ParseTmpfsSpec(text));
    spec.tmpfs.push_back(tmpfs);
  }
  if (userns()) {
    spec.namespaces |= CLONE_NEWUSER;  // before the volumes: they are idmapped with it
  }
  // The volumes' mounts corrald opened (fds 6, ...: ForkSupervisor), closed once started.
  for (size_t i = 0; i < config.volumes.size(); ++i) {
    ASSIGN_OR_RETURN(runtime::VolumeMountSpec volume, runtime::ParseVolumeMountSpec(config.volumes[i]));
    if (i >= launch_.volume_trees.size()) return absl::InternalError("a volume's mount was not passed to the supervisor");
    volume_trees.emplace_back(kFirstVolumeFd + static_cast<int>(i));
    runtime::BindSpec bind;
    bind.source = absl::StrCat("volume ", volume.name);
    bind.target = volume.target;
    bind.read_only = volume.read_only;
    bind.idmap = userns();  // the volume keeps the ids containers see
    bind.corral_store = true;
    bind.ready_tree = volume_trees.back().get();
    spec.binds.push_back(bind);
  }
  if (userns()) {
    // Root inside is the first id of the container's range; its capabilities, whatever they
    // are, hold only in its own user namespace. The overlay is shifted already (MountRootfs).
    spec.namespaces |= CLONE_NEWUSER;
    spec.uid_map = spec.gid_map = runtime::BlockMap(base());
  }
  return absl::OkStatus();
}

absl::Status Supervisor::AddBoot(runtime::ContainerSpec& spec) {
  const ContainerConfig& config = launch_.config;
  // The capability set follows the configuration, never the image: a booted container gets
  // what a full init needs (in its own user namespace unless privileged), a command the
  // defaults. What the image's init is only picks the halt signal (HaltSignal).
  if (config.boot) {
    // A booted systemd manages its own cgroup tree: the payload leaf, which is the root of the
    // container's cgroup namespace and delegated by the scope, mounted writable where it looks.
    spec.mounts.push_back(runtime::MountSpec::Filesystem("cgroup2", "/sys/fs/cgroup"));
    spec.capabilities = runtime::BootCapabilities();
    // The image's /etc/hostname would rename every container booted from it.
    RETURN_IF_ERROR(WriteFileAtomically(launch_.paths.hostname_file(), spec.hostname + "\n", 0644,
                                        Durability::kProcessCrashSafe));
    spec.mounts.push_back(
        runtime::MountSpec::BindFile(launch_.paths.hostname_file(), "/etc/hostname", runtime::ReadOnly::kYes));
    RETURN_IF_ERROR(ListenForNotify());
    spec.mounts.push_back(runtime::MountSpec::Bind(launch_.paths.host_dir(), "/run/host", runtime::ReadOnly::kYes));
    spec.env.push_back("NOTIFY_SOCKET=/run/host/notify");
  }
  return absl::OkStatus();
}

// The start steps: the payload leaf (EnterSupervisorLeaf made it), then the bridge network.
absl::Status Supervisor::PrepareSteps(runtime::ContainerSpec& spec) {
  const ContainerConfig& config = launch_.config;
  steps_.Add(&*placement_);
  if (config.network == NetworkMode::kBridge) {
    // The container still exists when it stops: it keeps its address for its next start.
    network_.emplace(netcfg::BridgeAttachment::Options{launch_.network_config, config.name, config.ports,
                                                       /*keep_address=*/true});
    steps_.Add(&*network_);
  }
  RETURN_IF_ERROR(steps_.Prepare(spec));
  if (network_) timer_.Mark(runtime::Phase::kNetworkPrepare);
  return absl::OkStatus();
}

absl::Status Supervisor::Start() {
  const ContainerConfig& config = launch_.config;
  runtime::ContainerSpec spec;
  spec.name = config.name;
  spec.hostname = config.EffectiveHostname();
  spec.rootfs = launch_.paths.rootfs();
  spec.command = config.command;
  spec.env = config.env;
  if (!config.cwd.empty()) spec.cwd = config.cwd;  // an OCI image's WorkingDir and User
  spec.uid = config.uid;
  spec.gid = config.gid;
  spec.tty = true;
  spec.init = config.boot ? runtime::InitMode::kBoot : runtime::InitMode::kTinyInit;
  if (config.network == NetworkMode::kHost) spec.namespaces &= ~static_cast<uint64_t>(CLONE_NEWNET);
  std::vector<UniqueFd> volume_trees;
  RETURN_IF_ERROR(AddStorage(spec, &volume_trees));
  RETURN_IF_ERROR(AddBoot(spec));
  timer_.Mark(runtime::Phase::kConsoleAndBootFiles);
  RETURN_IF_ERROR(PrepareSteps(spec));

  runtime::StartOptions start;
  start.steps = &steps_;
  start.timer = &timer_;
  if (!config.boot) {
    ASSIGN_OR_RETURN(output_, ConsoleOutput::Open());
    start.console_output = output_->child_end();
  }
  absl::StatusOr<runtime::Container> container = runtime::Container::Start(spec, start);
  if (output_) output_->CloseChildEnd();
  if (!container.ok()) return container.status();
  container_.emplace(std::move(*container));
  std::vector<std::string> addresses;
  if (network_ && network_->attached()) addresses.push_back(network_->attached()->address.ToString());

  SupervisorState state{::getpid(), container_->pid(), addresses};
  RETURN_IF_ERROR(WriteFileAtomically(launch_.paths.state(), FormatSupervisorState(state), 0644,
                                      Durability::kProcessCrashSafe));
  timer_.Mark(runtime::Phase::kStateFile);
  PhasesReport phases;
  for (const auto& [phase, ns] : timer_.phases()) phases.phases.emplace_back(std::string(runtime::PhaseName(phase)), static_cast<uint64_t>(ns) / 1000);
  Report(phases);
  Report(OkReport{container_->pid(), addresses});
  return absl::OkStatus();
}

absl::Status Supervisor::ListenForNotify() {
  RETURN_IF_ERROR(MakeDirectories(launch_.paths.host_dir(), 0755));
  std::string path = launch_.paths.host_dir() + "/notify";
  ::unlink(path.c_str());
  notify_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return absl::InvalidArgumentError("notify socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (!notify_.valid() || ::bind(notify_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return ErrnoError(absl::StrCat("bind ", path));
  }
  // Sending to a socket needs write permission on it: the container's root must own it.
  if (userns() && ::chown(path.c_str(), base(), base()) != 0) {
    return ErrnoError(absl::StrCat("chown ", path, " to the container's root"));
  }
  return absl::OkStatus();
}

void Supervisor::ReadNotify() {
  char message[4096];
  ssize_t n;
  while ((n = ::recv(notify_.get(), message, sizeof(message) - 1, 0)) > 0) {
    for (absl::string_view line : absl::StrSplit(absl::string_view(message, n), '\n')) {
      if (line == "READY=1" && !ready_reported_) {
        ready_reported_ = true;
        Report(ReadyReport{});
      }
    }
  }
}

absl::Status Supervisor::PrepareRunDir() {
  const std::string& run_dir = launch_.paths.run_dir;
  RETURN_IF_ERROR(MakeDirectories(run_dir, 0700));
  if (!userns()) return Annotate(ChmodIfNeeded(run_dir, 0700, 0, 0), "run directory");
  // The container's root resolves its rootfs and bind sources below run_dir from the host's
  // side (before pivot_root), without any power over host-owned directories: run_dir is
  // searchable by its group, the container's root group, and by nobody else (as Docker's
  // userns-remap root is 0710 root:REMAPGID); the directory above it by anyone (0711), its
  // listing still root's alone. The same for the one above it (/run/corral), which corrald may
  // have made 0700 itself after a reboot emptied /run.
  std::string parent = run_dir;
  for (int level = 0; level < 2; ++level) {
    parent = parent.substr(0, parent.rfind('/'));
    if (parent.empty()) break;
    struct stat st;
    if (::stat(parent.c_str(), &st) != 0) return ErrnoError(absl::StrCat("stat ", parent));
    if (st.st_uid == 0 && (st.st_mode & 0111) != 0111 && ::chmod(parent.c_str(), (st.st_mode & 07777) | 0111) != 0) {
      return ErrnoError(absl::StrCat("chmod o+x ", parent));
    }
  }
  return Annotate(ChmodIfNeeded(run_dir, 0710, 0, base()), "run directory");
}

// What needs neither the scope nor its cgroups: done while systemd starts the scope (a few
// milliseconds of corrald's start), before the go. It forks nothing that outlives it (the
// idmapped image's helper is gone when it returns), so nothing of the container is born outside
// the scope, and what it mounts Cleanup() undoes if the go never comes.
absl::Status Supervisor::PrepareBeforeScope() {
  if (userns() && base() == 0) return absl::InternalError("unprivileged container without a uid range");
  RETURN_IF_ERROR(PrepareRunDir());
  ::unlink(launch_.paths.exit_status().c_str());
  RETURN_IF_ERROR(MountRootfs());
  timer_.Mark(runtime::Phase::kOverlayRootfs);
  // The console socket is there before the container, so a client never finds it missing
  // while the container runs.
  return console_.Listen(launch_.paths.console_socket());
}

absl::Status Supervisor::PrepareInScope() {
  RETURN_IF_ERROR(EnterSupervisorLeaf());
  timer_.Mark(runtime::Phase::kCgroupLeaves);
  return Start();
}

void Supervisor::ServeExec() {
  if (!payload_cgroup_.valid() && placement_) {
    if (absl::StatusOr<UniqueFd> fd = placement_->leaf().OpenDirectory(); fd.ok()) payload_cgroup_ = std::move(*fd);
  }
  // Without the payload's fd the request is refused on its report socket (a helper would
  // start the command in the supervisor's own leaf); corrald then says why.
  if (!ServeExecRequest(exec_requests_.get(), container_->pidfd(), payload_cgroup_.get())) exec_requests_.reset();
}

void Supervisor::Serve() {
  const int console = container_->console_master();
  // No slave end open right now (an init closing and reopening /dev/console, a getty's
  // vhangup): the master then reports POLLHUP until one is opened again, so it is left out of
  // the poll for a moment instead of spinning on it.
  bool console_resting = false;
  char buffer[4096];
  journal_.emplace(launch_.config.name, absl::StrCat("corral-", launch_.config.name, ".scope"));
  // What the container wrote, on its console or its output pipe: to the ring, an attached
  // console and the journal.
  auto relay = [&](absl::string_view data) {
    console_.Output(data);
    journal_->Feed(data, MonotonicUsec());
  };
  for (;;) {
    pollfd fds[7] = {{container_->pidfd(), POLLIN, 0},
                     {console_resting ? -1 : console, POLLIN, 0},
                     {console_.listener(), POLLIN, 0},
                     {console_.session(), POLLIN, 0},
                     {notify_.valid() ? notify_.get() : -1, POLLIN, 0},
                     {exec_requests_.valid() ? exec_requests_.get() : -1, POLLIN, 0},
                     {output_ ? output_->fd() : -1, POLLIN, 0}};
    int timeout = journal_->PollTimeoutMs(MonotonicUsec());
    if (console_resting && (timeout < 0 || timeout > 100)) timeout = 100;
    int ready = ::poll(fds, 7, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;
    }
    console_resting = false;
    journal_->Tick(MonotonicUsec());
    if (fds[1].revents & POLLIN) {
      ssize_t n = ::read(console, buffer, sizeof(buffer));
      if (n > 0) {
        relay(absl::string_view(buffer, n));
      } else {
        console_resting = true;  // EIO: no slave open
      }
    } else if (fds[1].revents & (POLLHUP | POLLERR)) {
      console_resting = true;
    }
    if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) console_.Input(console);
    if (fds[2].revents & POLLIN) {
      if (std::string problem = console_.Accept(); !problem.empty()) Log(problem);
    }
    if (fds[6].revents & (POLLIN | POLLHUP | POLLERR)) output_->ReadAvailable(relay);
    if (fds[4].revents & POLLIN) ReadNotify();
    if (fds[5].revents & (POLLIN | POLLHUP | POLLERR)) ServeExec();
    if (fds[0].revents & POLLIN) {
      // The container's last words may still be in the pty: to the journal with the rest.
      pollfd last = {console, POLLIN, 0};
      for (int i = 0; i < 256 && ::poll(&last, 1, 0) == 1 && (last.revents & POLLIN); ++i) {
        ssize_t n = ::read(console, buffer, sizeof(buffer));
        if (n <= 0) break;
        journal_->Feed(absl::string_view(buffer, n), MonotonicUsec());
      }
      if (output_) output_->ReadAvailable([&](absl::string_view data) { journal_->Feed(data, MonotonicUsec()); }, 16 << 20);
      return;
    }
  }
}

bool Supervisor::Cleanup() {
  bool clean = true;
  if (absl::Status undone = steps_.Undo(); !undone.ok()) {
    Log(undone.message());
    clean = false;
  }
  rootfs_.reset();
  ::unlink(launch_.paths.console_socket().c_str());
  ::unlink(launch_.paths.state().c_str());
  ::unlink(launch_.paths.hostname_file().c_str());
  RemoveTree(launch_.paths.host_dir()).IgnoreError();
  ::rmdir(launch_.paths.rootfs().c_str());
  ::rmdir(runtime::OverlayRootfs::IdmappedImagePath(launch_.paths.run_dir).c_str());
  return clean;
}

void Supervisor::UndoFailedStart() {
  container_.reset();  // kills and reaps a container that started halfway
  Cleanup();
  if (made_layers_) {
    // A first start that failed leaves the container's files as they were (only empty
    // directories go; issue 13's D-Bus bad-input test found them left).
    ::rmdir((launch_.paths.lib_dir + "/work/work").c_str());
    ::rmdir((launch_.paths.lib_dir + "/work").c_str());
    ::rmdir((launch_.paths.lib_dir + "/upper").c_str());
  }
}

int Supervisor::Run(int go_fd) {
  timer_ = runtime::PhaseTimer();
  // A failure here is reported after the go, where corrald expects a start's outcome.
  absl::Status prepared = PrepareBeforeScope();
  char go = 0;
  ssize_t n;
  do {
    n = ::read(go_fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  ::close(go_fd);
  timer_.Mark(runtime::Phase::kWaitForGo);
  if (n != 1) {  // corrald gave up on this start: nothing of it stays
    UndoFailedStart();
    return 1;
  }
  if (prepared.ok()) prepared = PrepareInScope();
  if (!prepared.ok()) {
    UndoFailedStart();
    Report(ErrorReport{std::string(prepared.message())});
    return 1;
  }
  Serve();
  if (journal_) journal_->Flush(MonotonicUsec());
  absl::StatusOr<int> status = container_->Wait();
  int exit_status = status.ok() ? *status : 255;
  container_.reset();
  console_.EndSession();
  bool clean = Cleanup();
  WriteFileAtomically(launch_.paths.exit_status(), absl::StrCat(exit_status, "\n"), 0644, Durability::kProcessCrashSafe)
      .IgnoreError();
  Report(ExitReport{exit_status});
  return clean ? 0 : 2;
}

}  // namespace

int RunSupervisor(const SupervisorLaunch& launch) {
  Supervisor supervisor(launch, kReportFd, kExecRequestsFd);
  return supervisor.Run(kGoFd);
}

}  // namespace corral::dbus
