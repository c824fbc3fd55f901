#include "dbus/service.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fd_passing.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "dbus/console_request.h"
#include "dbus/exec_socket.h"
#include "dbus/exec_wire.h"
#include "dbus/container_stats.h"
#include "common/utf8.h"
#include "dbus/image_defaults.h"
#include "dbus/interface.h"
#include "dbus/event_log.h"
#include "dbus/journal_log.h"
#include "dbus/reconcile.h"
#include "dbus/retry.h"
#include "dbus/storage_options.h"
#include "dbus/supervisor_exec.h"
#include "dbus/volume_methods.h"
#include "netcfg/config.h"
#include "netcfg/network.h"
#include "netcfg/owner.h"
#include "runtime/attach.h"
#include "runtime/devices.h"
#include "runtime/idmap.h"
#include "runtime/phase_timer.h"
#include "runtime/spec.h"

namespace corral::dbus {

struct Service::Running {
  Service* service = nullptr;
  std::string name;
  pid_t supervisor = 0;
  UniqueFd supervisor_pidfd;
  UniqueFd go;      // held until systemd has the supervisor in the scope
  UniqueFd report;  // the supervisor's report lines (absent after a corrald restart)
  std::string report_buffer;
  UniqueFd leader_pidfd;
  UniqueFd payload_cgroup;  // where execs go (CLONE_INTO_CGROUP); opened once per run
  UniqueFd exec_requests;   // execs the supervisor starts (absent after a corrald restart)
  sd_event_source* report_source = nullptr;
  sd_event_source* exit_source = nullptr;
  sd_event_source* stop_timer = nullptr;
  sd_event_source* start_deadline = nullptr;  // fails the start when it fires (issue 13)
  // Tells this start from a later one of the same name (a callback of a cancelled start must
  // not act on the next).
  uint64_t generation = NextGeneration();
  static uint64_t NextGeneration() {
    static uint64_t next = 0;
    return ++next;
  }
  std::vector<sd_bus_message*> waiting_start;
  std::vector<sd_bus_message*> waiting_stop;
  // Callers of a start that failed: answered with start_error once the supervisor is gone and
  // the state is stopped again, so none of them can see "starting" after its error.
  std::vector<sd_bus_message*> failed_start_callers;
  absl::Status start_error;
  bool start_failed = false;  // its run directory goes when the supervisor is gone
  // This start's phases as corrald sees them (fork, scope, supervisor), and the supervisor's
  // own breakdown of its part (its "phases" report line), in microseconds.
  runtime::PhaseTimer start_timer;
  std::vector<std::pair<std::string, uint64_t>> supervisor_phases;

  ~Running() {
    sd_event_source_disable_unref(report_source);
    sd_event_source_disable_unref(exit_source);
    sd_event_source_disable_unref(stop_timer);
    sd_event_source_disable_unref(start_deadline);
    for (sd_bus_message* m : waiting_start) sd_bus_message_unref(m);
    for (sd_bus_message* m : waiting_stop) sd_bus_message_unref(m);
    for (sd_bus_message* m : failed_start_callers) sd_bus_message_unref(m);
  }
};

// How long an exec may take to start (the helper entering the container, the command's
// execve) before it is killed and the call fails: a container can hold an execve back (a
// write lease on the binary, a FUSE mount), and none of that may hold corrald.
constexpr uint64_t kExecStartTimeoutUsec = 10 * 1000000;

// A lock another process holds (dbus/retry.h): tried again this often, for at most this long
// by an rm (whose caller waits for its reply).
constexpr uint64_t kLockRetryUsec = 50 * 1000;
constexpr uint64_t kRemoveLockWaitUsec = 30 * 1000000;

struct Service::PendingExec {
  Service* service = nullptr;
  // Who waits for the exit status: a call of the Exec method, or a connection of the exec
  // socket (dbus/exec_socket.h), watched by `hangup` for its caller going away.
  sd_bus_message* call = nullptr;
  UniqueFd connection;
  sd_event_source* hangup = nullptr;
  // While starting: the attach under way, watched by attach_source, bounded by start_timer.
  std::unique_ptr<runtime::AttachInProgress> attach;
  sd_event_source* attach_source = nullptr;
  sd_event_source* start_timer = nullptr;
  UniqueFd pty_receiver;  // the caller's socket for the -t pty master (PtyReceiver)
  // Once started: the command, watched by source until it exits.
  runtime::AttachedProcess process;
  sd_event_source* source = nullptr;
  sd_bus_track* caller = nullptr;  // on the system bus: fires when the caller goes away
  ~PendingExec() {
    service->execs_.erase(this);
    sd_bus_track_unref(caller);
    sd_event_source_disable_unref(attach_source);
    sd_event_source_disable_unref(start_timer);
    sd_event_source_disable_unref(source);
    sd_event_source_disable_unref(hangup);
    sd_bus_message_unref(call);
  }
  // Answers the caller: the command's exit status, or why there is none.
  void Finish(const absl::StatusOr<int>& result);
  // The caller is gone (Ctrl-C on corralctl, a crash): its command goes too, as a hangup
  // would take it.
  void CallerGone() {
    if (attach) attach->Abort(absl::CancelledError("the caller went away"));
    sys::PidfdSendSignal(process.pidfd.get(), SIGKILL, nullptr, 0);
  }
};

namespace {

// ---- errors ----

int SetError(sd_bus_error* error, const char* name, absl::string_view message) {
  // sd-bus refuses to send a message that is not valid UTF-8, and the caller would get no
  // reply at all: whatever got quoted into the text, it is made valid here.
  return sd_bus_error_set(error, name, ValidUtf8(message).c_str());
}

// A Status from the registry or the runtime, as the contract's error.
int StatusError(sd_bus_error* error, const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      // A missing image is an argument problem; a missing container has its own name.
      return SetError(error, absl::StrContains(status.message(), "no container") ? kErrorNoSuchContainer
                                                                                 : kErrorInvalidArgument,
                      status.message());
    case absl::StatusCode::kAlreadyExists:
      return SetError(error, kErrorContainerExists, status.message());
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return SetError(error, kErrorInvalidArgument, status.message());
    case absl::StatusCode::kPermissionDenied:
      // EACCES/EPERM of a step inside or for a container (exec of a file that is not
      // executable): not the caller's rights, which alone answer AccessDenied (RequireRoot).
      return SetError(error, kErrorFailed, status.message());
    default:
      return SetError(error, kErrorFailed, status.message());
  }
}

int ReplyStatusError(sd_bus_message* call, const absl::Status& status) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  StatusError(&error, status);
  int r = sd_bus_reply_method_error(call, &error);
  sd_bus_error_free(&error);
  return r;
}

}  // namespace

void Service::PendingExec::Finish(const absl::StatusOr<int>& result) {
  if (call != nullptr) {
    if (result.ok()) {
      sd_bus_reply_method_return(call, "i", *result);
    } else {
      ReplyStatusError(call, result.status());
    }
    return;
  }
  ExecReply reply;
  reply.exited = result.ok();
  if (result.ok()) {
    reply.exit_status = *result;
  } else {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    StatusError(&error, result.status());
    reply.error_name = error.name;
    reply.message = error.message != nullptr ? error.message : "";
    sd_bus_error_free(&error);
  }
  SendExecReply(connection.get(), reply);
}

namespace {

// Passes `fd` on `socket` (one byte of data) without waiting: a caller that does not read its
// socket gets an error, not a stuck corrald.
absl::Status SendFd(int socket, int fd) {
  char byte = 'p';
  if (int err = SendWithFd(socket, &byte, 1, fd, MSG_DONTWAIT); err != 0) return ErrnoError(err, "sendmsg the pty master");
  return absl::OkStatus();
}

// True when the sender of `m` is root.
bool CallerIsRoot(sd_bus_message* m) {
  sd_bus_creds* creds = nullptr;
  uid_t euid = 1;
  // dbus-daemon vouches for the uid of the connection (SO_PEERCRED); the euid is only known
  // when sd-bus may read it from /proc, so take it when there and the uid otherwise.
  int q = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID, &creds);
  if (q >= 0 && sd_bus_creds_get_euid(creds, &euid) < 0) q = sd_bus_creds_get_uid(creds, &euid);
  sd_bus_creds_unref(creds);
  return q >= 0 && euid == 0;
}

// Methods that change something are root's (the bus policy lets others only read and list,
// like machined's); checked here as well so a permissive policy cannot open them up.
bool RequireRoot(sd_bus_message* m, sd_bus_error* error, int* r) {
  if (CallerIsRoot(m)) return true;
  *r = SetError(error, kErrorAccessDenied, "permission denied: only root may change containers");
  return false;
}

// Whether the property values being written into `reply` may include root-only ones (Command,
// which may carry secrets such as tokens on a command line). Only in a reply to a root caller's
// Get or GetAll: not in a signal (InterfacesAdded goes to every listener on the bus).
bool MayReadPrivateProperties(sd_bus* bus, sd_bus_message* reply) {
  uint8_t type = 0;
  if (sd_bus_message_get_type(reply, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_RETURN) return false;
  sd_bus_message* call = sd_bus_get_current_message(bus);
  if (call == nullptr) return false;
  // `corralctl ls` reads every container's properties, one call each: ask the bus for a
  // sender's uid once, not once per container. A unique name is never reused on a bus, and
  // the uid behind it never changes. (The private socket has no sender names; its peer is
  // known from the socket, at no cost.)
  static std::string* last_sender = new std::string;
  static bool last_is_root = false;
  const char* sender = sd_bus_message_get_sender(call);
  if (sender != nullptr && *last_sender == sender) return last_is_root;
  bool is_root = CallerIsRoot(call);
  if (sender != nullptr) {
    *last_sender = sender;
    last_is_root = is_root;
  }
  return is_root;
}

// Reads the name argument and checks it is a valid name.
bool ReadName(sd_bus_message* m, sd_bus_error* error, int* r, std::string* name) {
  const char* text = nullptr;
  *r = sd_bus_message_read(m, "s", &text);
  if (*r < 0) return false;
  absl::Status valid = runtime::ValidateContainerName(text);
  if (!valid.ok()) {
    *r = SetError(error, kErrorInvalidName, valid.message());
    return false;
  }
  *name = text;
  return true;
}

// ---- a{sv} options ----

// Enters the variant of option `key` if it holds `signature`; InvalidArgument otherwise.
int EnterVariant(sd_bus_message* m, const char* key, const char* signature, sd_bus_error* error) {
  int r = sd_bus_message_enter_container(m, 'v', signature);
  if (r == -ENXIO || r == 0) {
    return SetError(error, kErrorInvalidArgument, absl::StrCat("option ", key, " must be of type ", signature));
  }
  return r;
}

int ReadStrv(sd_bus_message* m, std::vector<std::string>* out) {
  char** strv = nullptr;
  int r = sd_bus_message_read_strv(m, &strv);
  if (r < 0) return r;
  for (char** s = strv; s && *s; ++s) {
    out->emplace_back(*s);
    free(*s);
  }
  free(strv);
  return 0;
}

// One option's value into `config`; unknown keys are an error (a typo must not pass silently).
int ReadCreateOption(sd_bus_message* m, const std::string& key, ContainerConfig* config, sd_bus_error* error) {
  int r;
  if (key == "Memory" || key == "Tasks" || key == "CPUWeight" || key == "CPUQuota") {
    uint64_t value = 0;
    if ((r = EnterVariant(m, key.c_str(), "t", error)) < 0 || (r = sd_bus_message_read(m, "t", &value)) < 0) return r;
    (key == "Memory"  ? config->memory_bytes
     : key == "Tasks" ? config->tasks
     : key == "CPUWeight" ? config->cpu_weight
                          : config->cpu_quota_percent) = value;
  } else if (key == "Restart") {
    const char* value = nullptr;
    if ((r = EnterVariant(m, key.c_str(), "s", error)) < 0 || (r = sd_bus_message_read(m, "s", &value)) < 0) return r;
    absl::StatusOr<RestartPolicy> policy = ParseRestartPolicy(value);
    if (!policy.ok()) return StatusError(error, policy.status());
    config->restart = FormatRestartPolicy(*policy);
  } else if (key == "Network" || key == "Hostname") {
    const char* value = nullptr;
    if ((r = EnterVariant(m, key.c_str(), "s", error)) < 0 || (r = sd_bus_message_read(m, "s", &value)) < 0) return r;
    if (key == "Hostname") {
      config->hostname = value;
    } else {
      absl::StatusOr<NetworkMode> mode = ParseNetworkMode(value);
      if (!mode.ok()) return StatusError(error, mode.status());
      config->network = *mode;
    }
  } else if (key == "Command" || key == "Environment") {
    if ((r = EnterVariant(m, key.c_str(), "as", error)) < 0) return r;
    if ((r = ReadStrv(m, key == "Command" ? &config->command : &config->env)) < 0) return r;
  } else if (key == "Boot" || key == "Privileged") {
    int value = 0;
    if ((r = EnterVariant(m, key.c_str(), "b", error)) < 0 || (r = sd_bus_message_read(m, "b", &value)) < 0) return r;
    (key == "Boot" ? config->boot : config->privileged) = value;
  } else if (key == "Devices") {
    // Each "/dev/X[:rwm]" must name a device node of this host now; stored normalized.
    std::vector<std::string> texts;
    if ((r = EnterVariant(m, key.c_str(), "as", error)) < 0 || (r = ReadStrv(m, &texts)) < 0) return r;
    for (const std::string& text : texts) {
      absl::StatusOr<runtime::DeviceSpec> device = runtime::ParseDeviceSpec(text);
      if (!device.ok()) return SetError(error, kErrorInvalidArgument, absl::StrCat("Devices: ", device.status().message()));
      config->devices.push_back(runtime::FormatDeviceSpec(*device));
    }
  } else if (IsStorageOption(key)) {  // Binds, IdmappedBinds, Tmpfs, Volumes: dbus/storage_options.h
    absl::Status invalid;
    if ((r = ReadStorageOption(m, key, config, &invalid)) < 0) return r;
    if (!invalid.ok()) return StatusError(error, invalid);
  } else if (key == "Ports") {
    if ((r = EnterVariant(m, key.c_str(), "a(sqq)", error)) < 0) return r;
    if ((r = sd_bus_message_enter_container(m, 'a', "(sqq)")) < 0) return r;
    const char* protocol = nullptr;
    uint16_t host = 0, container = 0;
    while ((r = sd_bus_message_read(m, "(sqq)", &protocol, &host, &container)) > 0) {
      absl::StatusOr<netcfg::PortForward> forward =
          netcfg::ParsePortForward(absl::StrCat(protocol, ":", host, ":", container));
      if (!forward.ok()) return StatusError(error, forward.status());
      config->ports.push_back(*forward);
    }
    if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0) return r;
  } else {
    return SetError(error, kErrorInvalidArgument,
                    absl::StrCat("unknown option ", key,
                                 " (known: Memory, Tasks, CPUWeight, CPUQuota, Restart, Network, Hostname, Ports, Command, "
                                 "Environment, Boot, Privileged, Devices, Binds, IdmappedBinds, Tmpfs, Volumes)"));
  }
  return sd_bus_message_exit_container(m);
}

// The scope's DeviceAllow= entries: the default allow-list and the container's Devices.
std::vector<std::pair<std::string, std::string>> ScopeDeviceAllow(const ContainerConfig& config) {
  std::vector<runtime::DeviceSpec> devices;
  for (const std::string& text : config.devices) {
    absl::StatusOr<runtime::DeviceSpec> device = runtime::ParseDeviceSpecText(text);
    if (device.ok()) devices.push_back(*device);  // a stored config was validated when loaded
  }
  return runtime::SystemdDeviceAllow(devices);
}

// Calls `read_one(key)` for each entry of an a{sv}, positioned at the variant. A key given twice
// is refused (InvalidArgument in `error`; -EINVAL without one): which of the two would win is
// nobody's guess.
template <typename ReadOne>
int ReadOptions(sd_bus_message* m, ReadOne read_one, sd_bus_error* error = nullptr) {
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0) return r;
  std::set<std::string> seen;
  while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char* key = nullptr;
    if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
    if (!seen.insert(key).second) {
      if (error == nullptr) return -EINVAL;
      return SetError(error, kErrorInvalidArgument, absl::StrCat("option ", key, " is given twice"));
    }
    if ((r = read_one(std::string(key))) < 0) return r;
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

// The cgroup2 directory of a process, for attaching into its cgroup (CLONE_INTO_CGROUP).
absl::StatusOr<UniqueFd> OpenCgroupOf(pid_t pid) {
  ASSIGN_OR_RETURN(std::string dir, Cgroup2DirectoryOf(pid));
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(absl::StrCat("open ", dir));
  return fd;
}

std::vector<const char*> AllChangingProperties() {
  return {"State", "Leader", "Addresses", "ExitStatus", "OOMKilled", "OOMKills", "StartedAt", "FinishedAt", "RestartCount"};
}

}  // namespace

// ---- objects ----

const sd_bus_vtable Service::kManagerVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES("CreateContainer", "ssa{sv}", SD_BUS_PARAM(name) SD_BUS_PARAM(image) SD_BUS_PARAM(options),
                             "o", SD_BUS_PARAM(path), Service::CreateContainer, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("StartContainer", "s", SD_BUS_PARAM(name), "", , Service::StartContainer,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("StopContainer", "s", SD_BUS_PARAM(name), "", , Service::StopContainer,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("StopContainerWithTimeout", "su", SD_BUS_PARAM(name) SD_BUS_PARAM(timeout_seconds), "", ,
                             Service::StopContainerWithTimeout, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("KillContainer", "si", SD_BUS_PARAM(name) SD_BUS_PARAM(signal), "", ,
                             Service::KillContainer, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("RemoveContainer", "s", SD_BUS_PARAM(name), "", , Service::RemoveContainer,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("ListContainers", "", , "a(ssuo)", SD_BUS_PARAM(containers), Service::ListContainers,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("GetContainer", "s", SD_BUS_PARAM(name), "o", SD_BUS_PARAM(path), Service::GetContainer,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("OpenConsole", "s", SD_BUS_PARAM(name), "hs", SD_BUS_PARAM(master) SD_BUS_PARAM(pty),
                             Service::OpenConsole, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Exec", "sasa{sv}hhh",
                             SD_BUS_PARAM(name) SD_BUS_PARAM(command) SD_BUS_PARAM(options) SD_BUS_PARAM(stdin)
                                 SD_BUS_PARAM(stdout) SD_BUS_PARAM(stderr),
                             "i", SD_BUS_PARAM(exit_status), Service::Exec, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("CheckConfig", "", , "as", SD_BUS_PARAM(warnings), Service::CheckConfig,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("GetStats", "s", SD_BUS_PARAM(name), "a{sv}", SD_BUS_PARAM(stats), Service::GetStats,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Top", "s", SD_BUS_PARAM(name), "a(uuutts)", SD_BUS_PARAM(processes), Service::Top,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("SetLimits", "sa{sv}", SD_BUS_PARAM(name) SD_BUS_PARAM(limits), "", , Service::SetLimits,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("CreateVolume", "st", SD_BUS_PARAM(name) SD_BUS_PARAM(size_bytes), "", ,
                             Service::VolumeCall, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("ListVolumes", "", , "a(sttas)", SD_BUS_PARAM(volumes), Service::VolumeCall,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("RemoveVolume", "s", SD_BUS_PARAM(name), "", , Service::VolumeCall,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_NAMES("ContainerNew", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
    SD_BUS_SIGNAL_WITH_NAMES("ContainerRemoved", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
    SD_BUS_VTABLE_END,
};

const sd_bus_vtable Service::kContainerVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "s", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Leader", "u", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Unit", "s", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Image", "s", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Hostname", "s", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Addresses", "as", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("ExitStatus", "i", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Ready", "b", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("OOMKilled", "b", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("OOMKills", "t", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("StartedAt", "t", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("FinishedAt", "t", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("RestartCount", "u", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Network", "s", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Ports", "a(sqq)", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Memory", "t", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Tasks", "t", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("CPUWeight", "t", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("CPUQuota", "t", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Restart", "s", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Boot", "b", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Privileged", "b", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("UIDRange", "(uu)", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Command", "as", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Devices", "as", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Binds", "as", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Tmpfs", "as", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Volumes", "as", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    // Where the last start's time went: (phase, microseconds) in order, e.g. "scope",
    // "overlay rootfs", "network attach", "clone", "machined registration".
    SD_BUS_PROPERTY("StartPhases", "a(st)", Service::GetProperty, 0, 0),
    // Why a "broken" container's config did not load (empty otherwise).
    SD_BUS_PROPERTY("Problem", "s", Service::GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_VTABLE_END,
};

absl::StatusOr<std::unique_ptr<Service>> Service::Create(sd_event* event, sd_bus* bus, ServiceOptions options) {
  std::unique_ptr<Service> service(new Service(event, bus, std::move(options)));
  std::vector<std::string> problems;
  RETURN_IF_ERROR(service->registry_.Load(&problems));
  for (const std::string& problem : problems) ::fprintf(stderr, "corrald: skipping %s\n", problem.c_str());
  ASSIGN_OR_RETURN(service->systemd_, SystemdClient::Create(bus));
  RETURN_IF_ERROR(service->Publish(bus, &service->slots_));
  for (ContainerRecord* record : service->registry_.List()) {
    service->Recover(record);
    BaselineContainerEvents(*record);
  }
  // Everything the host holds for containers that do not run is freed, and said (issue 13).
  ReconcileInput input{service->options_.paths.lib_root, service->options_.paths.run_root,
                       Cgroup2MountPoint().value_or(""), {}, {}};
  for (ContainerRecord* record : service->registry_.List()) input.known.insert(record->config.name);
  for (const auto& [name, run] : service->running_) input.running.insert(name);
  ReconcileResult reconciled = ReconcileHost(input, ReadFile("/proc/self/mountinfo").value_or(""));
  for (const std::string& line : reconciled.freed) ::fprintf(stderr, "corrald: reconciled at start: %s\n", line.c_str());
  for (const std::string& unit : reconciled.stray_scopes) {
    ::fprintf(stderr, "corrald: reconciled at start: killed and stopped %s (no living supervisor)\n", unit.c_str());
    service->systemd_->KillAndStopScope(unit);
  }
  service->systemd_->UnregisterMachinesExcept(input.running, [](const std::string& machine) {
    ::fprintf(stderr, "corrald: reconciled at start: unregistered machine %s (no such running container)\n",
              machine.c_str());
  });
  // Adopted containers whose registration died with the last corrald are registered now.
  std::map<std::string, SystemdClient::MachineLeader> machines;
  for (const auto& [name, run] : service->running_) {
    ContainerRecord* record = service->registry_.Find(name);
    if (record != nullptr && !absl::StrContains(name, '_')) machines[name] = {record->leader, record->paths.rootfs()};
  }
  service->systemd_->RegisterMissingMachines(std::move(machines), [](const std::string& machine, absl::Status status) {
    ::fprintf(stderr, "corrald: reconciled at start: registered machine %s: %s\n", machine.c_str(),
              status.ok() ? "ok" : std::string(status.message()).c_str());
  });
  service->ReclaimNetwork("at start");
  return service;
}

Service::Service(sd_event* event, sd_bus* bus, ServiceOptions options)
    : event_(event), bus_(bus), options_(std::move(options)), registry_(options_.paths) {}

Service::~Service() {
  DropEventState();
  private_connections_.clear();
  sd_event_source_disable_unref(private_source_);
  running_.clear();
  for (sd_bus_slot* slot : slots_) sd_bus_slot_unref(slot);
}

absl::Status Service::Publish(sd_bus* bus, std::vector<sd_bus_slot*>* slots) {
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_add_object_vtable(bus, &slot, kManagerPath, kManagerInterface, kManagerVtable, this);
  if (r < 0) return ErrnoError(-r, "publish the manager object");
  slots->push_back(slot);
  r = sd_bus_add_fallback_vtable(bus, &slot, kContainerPathPrefix, kContainerInterface, kContainerVtable,
                                 &Service::FindContainer, this);
  if (r < 0) return ErrnoError(-r, "publish the container objects");
  slots->push_back(slot);
  r = sd_bus_add_node_enumerator(bus, &slot, kContainerPathPrefix, &Service::EnumerateContainers, this);
  if (r < 0) return ErrnoError(-r, "publish the container list");
  slots->push_back(slot);
  r = sd_bus_add_object_manager(bus, &slot, kManagerPath);
  if (r < 0) return ErrnoError(-r, "publish the object manager");
  slots->push_back(slot);
  return absl::OkStatus();
}

// ---- the private socket ----

struct Service::PrivateConnection {
  sd_bus* bus = nullptr;
  std::vector<sd_bus_slot*> slots;
  sd_event_source* cleanup = nullptr;
  ~PrivateConnection() {
    for (sd_bus_slot* slot : slots) sd_bus_slot_unref(slot);
    sd_event_source_disable_unref(cleanup);
    sd_bus_detach_event(bus);
    sd_bus_flush_close_unref(bus);
  }
};

absl::Status Service::ListenPrivate(const std::string& path) {
  RETURN_IF_ERROR(MakeDirectories(path.substr(0, path.rfind('/')), 0755));
  private_listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return absl::InvalidArgumentError("private socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  // The mode is set before anyone can connect: bind under a umask that leaves root only.
  mode_t old_umask = ::umask(0077);
  int bound = private_listener_.valid()
                  ? ::bind(private_listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address))
                  : -1;
  ::umask(old_umask);
  if (bound != 0 || ::listen(private_listener_.get(), 64) != 0) return ErrnoError(absl::StrCat("listen on ", path));
  int r = sd_event_add_io(
      event_, &private_source_, private_listener_.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        static_cast<Service*>(data)->AcceptPrivate();
        return 0;
      },
      this);
  if (r < 0) return ErrnoError(-r, "watch the private socket");
  return absl::OkStatus();
}

void Service::AcceptPrivate() {
  for (;;) {
    int fd = ::accept4(private_listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    auto connection = std::make_unique<PrivateConnection>();
    sd_id128_t server_id;
    sd_id128_randomize(&server_id);
    int r = sd_bus_new(&connection->bus);
    if (r >= 0) r = sd_bus_set_fd(connection->bus, fd, fd);
    if (r < 0) {
      ::close(fd);
      continue;
    }
    sd_bus_set_server(connection->bus, 1, server_id);
    sd_bus_negotiate_fds(connection->bus, 1);
    if (sd_bus_start(connection->bus) < 0 || sd_bus_attach_event(connection->bus, event_, 0) < 0 ||
        !Publish(connection->bus, &connection->slots).ok()) {
      continue;  // the destructor closes it
    }
    // sd-bus synthesizes Disconnected when the peer goes; the connection is freed from the
    // loop afterwards, not inside its own dispatch.
    sd_bus_slot* slot = nullptr;
    sd_bus_add_filter(
        connection->bus, &slot,
        [](sd_bus_message* m, void* data, sd_bus_error*) -> int {
          if (!sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected")) return 0;
          auto* self = static_cast<Service*>(data);
          for (PendingExec* exec : self->execs_) {
            if (exec->call != nullptr && sd_bus_message_get_bus(exec->call) == sd_bus_message_get_bus(m)) {
              exec->CallerGone();
            }
          }
          auto it = self->private_connections_.find(sd_bus_message_get_bus(m));
          if (it == self->private_connections_.end() || it->second->cleanup != nullptr) return 0;
          sd_event_add_defer(
              self->event_, &it->second->cleanup,
              [](sd_event_source* source, void* data) -> int {
                auto* service = static_cast<Service*>(data);
                for (auto i = service->private_connections_.begin(); i != service->private_connections_.end(); ++i) {
                  if (i->second->cleanup == source) {
                    service->private_connections_.erase(i);
                    break;
                  }
                }
                return 0;
              },
              self);
          return 0;
        },
        this);
    connection->slots.push_back(slot);
    sd_bus* key = connection->bus;
    private_connections_[key] = std::move(connection);
  }
}

std::string Service::PathOf(const std::string& name) const {
  char* path = nullptr;
  if (sd_bus_path_encode(kContainerPathPrefix, name.c_str(), &path) < 0) return kContainerPathPrefix;
  std::string result = path;
  free(path);
  return result;
}

ContainerRecord* Service::Target(sd_bus_message* m, sd_bus_error* error, int* r) {
  std::string name;
  if (!RequireRoot(m, error, r) || !ReadName(m, error, r, &name)) return nullptr;
  ContainerRecord* record = registry_.Find(name);
  if (record == nullptr) *r = SetError(error, kErrorNoSuchContainer, absl::StrCat("no container named ", name));
  return record;
}

int Service::FindContainer(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*) {
  auto* self = static_cast<Service*>(userdata);
  char* name = nullptr;
  if (sd_bus_path_decode(path, kContainerPathPrefix, &name) <= 0) return 0;
  ContainerRecord* record = self->registry_.Find(name);
  free(name);
  if (record == nullptr) return 0;
  *found = record;
  return 1;
}

int Service::EnumerateContainers(sd_bus*, const char*, void* userdata, char*** nodes, sd_bus_error*) {
  auto* self = static_cast<Service*>(userdata);
  std::vector<ContainerRecord*> records = self->registry_.List();
  char** list = static_cast<char**>(calloc(records.size() + 1, sizeof(char*)));
  if (list == nullptr) return -ENOMEM;
  for (size_t i = 0; i < records.size(); ++i) list[i] = strdup(self->PathOf(records[i]->config.name).c_str());
  *nodes = list;
  return 0;
}

int Service::GetProperty(sd_bus* bus, const char*, const char*, const char* property, sd_bus_message* reply,
                         void* userdata, sd_bus_error*) {
  const auto* record = static_cast<const ContainerRecord*>(userdata);
  const ContainerConfig& c = record->config;
  std::string p = property;
  if (p == "Name") return sd_bus_message_append(reply, "s", c.name.c_str());
  if (p == "State") return sd_bus_message_append(reply, "s", std::string(ContainerStateName(record->state)).c_str());
  if (p == "Leader") return sd_bus_message_append(reply, "u", static_cast<uint32_t>(record->leader));
  if (p == "Unit") return sd_bus_message_append(reply, "s", record->unit().c_str());
  if (p == "Problem") return sd_bus_message_append(reply, "s", ValidUtf8(record->problem).c_str());
  if (p == "Image") return sd_bus_message_append(reply, "s", c.image.c_str());
  if (p == "Hostname") return sd_bus_message_append(reply, "s", c.EffectiveHostname().c_str());
  if (p == "ExitStatus") return sd_bus_message_append(reply, "i", record->exit_status);
  if (p == "Network") return sd_bus_message_append(reply, "s", std::string(NetworkModeName(c.network)).c_str());
  if (p == "Memory") return sd_bus_message_append(reply, "t", c.memory_bytes);
  if (p == "Tasks") return sd_bus_message_append(reply, "t", c.tasks);
  if (p == "CPUWeight") return sd_bus_message_append(reply, "t", c.cpu_weight);
  if (p == "CPUQuota") return sd_bus_message_append(reply, "t", c.cpu_quota_percent);
  if (p == "Restart") return sd_bus_message_append(reply, "s", c.restart.c_str());
  if (p == "Boot") return sd_bus_message_append(reply, "b", static_cast<int>(c.boot));
  if (p == "Privileged") return sd_bus_message_append(reply, "b", static_cast<int>(c.privileged));
  if (p == "UIDRange") {
    return sd_bus_message_append(reply, "(uu)", c.uid_base, c.uid_base == 0 ? 0u : runtime::kIdBlockSize);
  }
  if (p == "Ready") return sd_bus_message_append(reply, "b", static_cast<int>(record->ready));
  if (p == "OOMKilled") return sd_bus_message_append(reply, "b", static_cast<int>(record->oom_kills > 0));
  if (p == "OOMKills") return sd_bus_message_append(reply, "t", record->oom_kills);
  if (p == "StartedAt") return sd_bus_message_append(reply, "t", static_cast<uint64_t>(record->started_at_usec));
  if (p == "FinishedAt") return sd_bus_message_append(reply, "t", static_cast<uint64_t>(record->finished_at_usec));
  if (p == "RestartCount") return sd_bus_message_append(reply, "u", record->restart_count);
  // Command is root's (MayReadPrivateProperties): others read an empty list, not an error, so
  // GetAll, and with it `corralctl ls` and `info`, keeps working for every user.
  static const std::vector<std::string> kWithheld;
  const std::vector<std::string>* strings = p == "Addresses" ? &record->addresses : nullptr;
  if (p == "Command") strings = MayReadPrivateProperties(bus, reply) ? &c.command : &kWithheld;
  if (p == "Devices") strings = &c.devices;
  if (p == "Binds") strings = MayReadPrivateProperties(bus, reply) ? &c.binds : &kWithheld;  // host paths: root's
  if (p == "Tmpfs") strings = &c.tmpfs;
  if (p == "Volumes") strings = &c.volumes;
  if (strings != nullptr) {
    int r = sd_bus_message_open_container(reply, 'a', "s");
    for (const std::string& s : *strings) {
      if (r >= 0) r = sd_bus_message_append(reply, "s", s.c_str());
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
  }
  if (p == "StartPhases") {
    int r = sd_bus_message_open_container(reply, 'a', "(st)");
    for (const auto& [phase, us] : record->start_phases) {
      if (r >= 0) r = sd_bus_message_append(reply, "(st)", phase.c_str(), us);
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
  }
  if (p == "Ports") {
    int r = sd_bus_message_open_container(reply, 'a', "(sqq)");
    for (const netcfg::PortForward& f : c.ports) {
      if (r >= 0) {
        r = sd_bus_message_append(reply, "(sqq)", f.protocol == netcfg::Protocol::kUdp ? "udp" : "tcp", f.host_port,
                                  f.container_port);
      }
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
  }
  return -ENOENT;
}

void Service::EmitChanged(ContainerRecord* record, std::vector<const char*> properties) {
  properties.push_back(nullptr);
  sd_bus_emit_properties_changed_strv(bus_, PathOf(record->config.name).c_str(), kContainerInterface,
                                      const_cast<char**>(properties.data()));
  LogStateIfChanged(*record);  // for `corralctl events --since` (dbus/event_log.h)
}

void Service::SetState(ContainerRecord* record, ContainerState state) {
  if (record->state == state) return;
  record->state = state;
  EmitChanged(record, AllChangingProperties());
}

// ---- volumes (dbus/volume_methods.h) ----

int Service::VolumeCall(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  int r = 0;
  if (!RequireRoot(m, error, &r)) return r;
  return HandleVolumeCall(m, static_cast<Service*>(userdata)->registry_, error);
}

// ---- create, remove, list ----

int Service::CreateContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  std::string name;
  if (!RequireRoot(m, error, &r) || !ReadName(m, error, &r, &name)) return r;
  const char* image = nullptr;
  if ((r = sd_bus_message_read(m, "s", &image)) < 0) return r;
  ContainerConfig config;
  config.name = name;
  config.image = image;
  r = ReadOptions(m, [&](const std::string& key) { return ReadCreateOption(m, key, &config, error); }, error);
  if (r < 0) return r;
  // An OCI image's layers and defaults (Entrypoint, Cmd, Env, ...): dbus/image_defaults.h.
  if (absl::Status image = ApplyImageDefaults(self->options_.paths.images_root, &config); !image.ok()) {
    return StatusError(error, image);
  }
  if (config.command.empty()) config.boot = true;  // no command: boot the image's init, as lxc-start does
  if (absl::Status storage = CheckStorageOnHost(config, self->options_.paths.volumes_root); !storage.ok()) {
    return StatusError(error, storage);
  }
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  config.created_usec = int64_t{now.tv_sec} * 1000000 + now.tv_nsec / 1000;
  absl::StatusOr<ContainerRecord*> created = self->registry_.Create(std::move(config));
  if (!created.ok()) return StatusError(error, created.status());
  std::string path = self->PathOf(name);
  sd_bus_emit_signal(self->bus_, kManagerPath, kManagerInterface, "ContainerNew", "so", name.c_str(), path.c_str());
  LogCreated(name);
  sd_bus_emit_object_added(self->bus_, path.c_str());
  return sd_bus_reply_method_return(m, "o", path.c_str());
}

int Service::RemoveContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  const std::string name = record->config.name;
  const uint64_t deadline = MonotonicUsec() + kRemoveLockWaitUsec;
  bool busy = false;
  r = self->FinishRemove(m, name, deadline, error, &busy);
  if (!busy) return r;
  // The leases lock is held by another process: tried again from the loop, which answers
  // everyone else meanwhile; the reply comes from the attempt that gets through.
  sd_bus_message_ref(m);
  bool retrying = RetryLater(self->event_, kLockRetryUsec, [self, m, name, deadline]() {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    bool again = false;
    int q = self->FinishRemove(m, name, deadline, &e, &again);
    if (again) return false;
    if (q < 0) {
      if (sd_bus_error_is_set(&e)) {
        sd_bus_reply_method_error(m, &e);
      } else {
        sd_bus_reply_method_errno(m, q, nullptr);
      }
    }
    sd_bus_error_free(&e);
    sd_bus_message_unref(m);
    return true;
  });
  if (!retrying) {
    sd_bus_message_unref(m);
    return SetError(error, kErrorFailed, absl::StrCat("rm ", name, ": cannot wait for the leases lock"));
  }
  return 1;
}

int Service::FinishRemove(sd_bus_message* m, const std::string& name, uint64_t deadline_usec, sd_bus_error* error,
                          bool* busy) {
  *busy = false;
  // Checked on every attempt: a retry comes back to a world that may have changed.
  ContainerRecord* record = registry_.Find(name);
  if (record == nullptr) return SetError(error, kErrorNoSuchContainer, absl::StrCat("no container named ", name));
  if (record->state != ContainerState::kStopped && record->state != ContainerState::kBroken) {
    return SetError(error, kErrorAlreadyRunning, absl::StrCat("container ", name, " is running: stop it first"));
  }
  // Never under a running process: a scope whose supervisor died may still be emptying.
  if (ScopeHasProcesses(record->unit())) {
    return SetError(error, kErrorAlreadyRunning,
                    absl::StrCat("the scope ", record->unit(), " of container ", name,
                                 " still has processes; try again when it is empty (systemctl stop ", record->unit(), ")"));
  }
  CancelRestart(record);
  std::string path = PathOf(name);
  // Its address goes with it (the network keeps a lease while a stopped container exists), and
  // every forward still pointing at that address (an unclean end leaves them).
  if (record->config.network == NetworkMode::kBridge) {
    absl::StatusOr<netcfg::NetworkConfig> network_config = netcfg::LoadNetworkConfig(options_.network_config);
    absl::StatusOr<std::unique_ptr<netcfg::BridgeNetwork>> network =
        network_config.ok() ? netcfg::BridgeNetwork::Open(*network_config) : network_config.status();
    // The veth is not deleted here: a stopped container's went with its network namespace (the
    // kernel's netns cleanup, which a synchronous RTM_DELLINK would only wait for in corrald's
    // loop), and one an unclean end left is reclaimed by the next pass.
    absl::Status released = network.ok() ? (*network)->Detach(name, {/*keep_address=*/false, /*delete_link=*/false,
                                                                     /*find_stray_forwards=*/true})
                                         : network.status();
    if (released.code() == absl::StatusCode::kUnavailable) {
      if (MonotonicUsec() < deadline_usec) {
        *busy = true;
        return 0;
      }
      return SetError(error, kErrorFailed,
                      absl::StrCat("rm ", name, ": ", released.message(), " for ", kRemoveLockWaitUsec / 1000000,
                                   " s; nothing was removed"));
    }
    // The next reconciliation pass (corrald's start) frees what could not be freed now.
    if (!released.ok()) {
      ::fprintf(stderr, "corrald: rm %s: %s\n", name.c_str(), std::string(released.message()).c_str());
    }
  }
  sd_bus_emit_object_removed(bus_, path.c_str());
  absl::Status removed = registry_.Remove(name);
  if (!removed.ok()) return StatusError(error, removed);
  sd_bus_emit_signal(bus_, kManagerPath, kManagerInterface, "ContainerRemoved", "so", name.c_str(), path.c_str());
  LogRemoved(name);
  return sd_bus_reply_method_return(m, "");
}

int Service::ListContainers(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<Service*>(userdata);
  sd_bus_message* reply = nullptr;
  int r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(ssuo)");
  for (ContainerRecord* record : self->registry_.List()) {
    if (r < 0) break;
    r = sd_bus_message_append(reply, "(ssuo)", record->config.name.c_str(),
                              std::string(ContainerStateName(record->state)).c_str(),
                              static_cast<uint32_t>(record->leader), self->PathOf(record->config.name).c_str());
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  sd_bus_message_unref(reply);
  return r;
}

int Service::GetContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  std::string name;
  if (!ReadName(m, error, &r, &name)) return r;
  if (self->registry_.Find(name) == nullptr) {
    return SetError(error, kErrorNoSuchContainer, absl::StrCat("no container named ", name));
  }
  return sd_bus_reply_method_return(m, "o", self->PathOf(name).c_str());
}

int Service::CheckConfig(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  // Its warnings describe the host's firewall and network configuration: root's to read. (The
  // bus policy lets everyone call it, so a caller gets this message rather than the bus's.)
  if (!CallerIsRoot(m)) {
    return SetError(error, kErrorAccessDenied, "permission denied: only root may check the host configuration");
  }
  std::vector<std::string> warnings;
  absl::StatusOr<netcfg::NetworkConfig> config = netcfg::LoadNetworkConfig(self->options_.network_config);
  if (!config.ok()) {
    warnings.push_back(absl::StrCat("network configuration: ", config.status().message()));
  } else {
    absl::StatusOr<std::unique_ptr<netcfg::BridgeNetwork>> network = netcfg::BridgeNetwork::Open(*config);
    absl::StatusOr<std::vector<std::string>> firewall =
        network.ok() ? (*network)->CheckHostFirewall() : absl::StatusOr<std::vector<std::string>>(network.status());
    if (firewall.ok()) {
      warnings.insert(warnings.end(), firewall->begin(), firewall->end());
    } else {
      warnings.push_back(absl::StrCat("cannot inspect the host firewall: ", firewall.status().message()));
    }
  }
  for (std::string& w : self->registry_.CheckUserNamespaces()) warnings.push_back(std::move(w));
  sd_bus_message* reply = nullptr;
  int r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "s");
  for (const std::string& w : warnings) {
    if (r >= 0) r = sd_bus_message_append(reply, "s", w.c_str());
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  sd_bus_message_unref(reply);
  return r;
}

// ---- stats and top ----

// The running container `m` names, for a method every user may call (the figures are not
// secret: `ps` and /sys/fs/cgroup show them too); nullptr with *r set otherwise.
ContainerRecord* Service::RunningTarget(sd_bus_message* m, sd_bus_error* error, int* r, StatsRequest* request) {
  std::string name;
  if (!ReadName(m, error, r, &name)) return nullptr;
  ContainerRecord* record = registry_.Find(name);
  if (record == nullptr) {
    *r = SetError(error, kErrorNoSuchContainer, absl::StrCat("no container named ", name));
  } else if (record->state != ContainerState::kRunning || record->leader <= 0) {
    *r = SetError(error, kErrorNotRunning, absl::StrCat("container ", name, " is ", ContainerStateName(record->state)));
    return nullptr;
  } else {
    *request = {name, record->unit(), record->leader, record->config.network == NetworkMode::kBridge,
                options_.network_config};
  }
  return record;
}

// A container whose init exited while it was being read has stopped: NotRunning, not Failed.
int Service::StatsError(const StatsRequest& request, const absl::Status& status, sd_bus_error* error) {
  if (::kill(request.leader, 0) != 0 && errno == ESRCH) {
    return SetError(error, kErrorNotRunning, absl::StrCat("container ", request.name, " is not running"));
  }
  return SetError(error, kErrorFailed, status.message());
}

int Service::GetStats(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  StatsRequest request;
  if (self->RunningTarget(m, error, &r, &request) == nullptr) return r;
  absl::StatusOr<std::vector<StatsEntry>> stats = ReadContainerStats(request);
  if (!stats.ok()) return self->StatsError(request, stats.status(), error);
  sd_bus_message* reply = nullptr;
  r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "{sv}");
  for (const StatsEntry& entry : *stats) {
    if (r < 0) break;
    r = entry.is_text ? sd_bus_message_append(reply, "{sv}", entry.key.c_str(), "s", entry.text.c_str())
                      : sd_bus_message_append(reply, "{sv}", entry.key.c_str(), "t", entry.number);
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  sd_bus_message_unref(reply);
  return r;
}

int Service::Top(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  StatsRequest request;
  if (self->RunningTarget(m, error, &r, &request) == nullptr) return r;
  absl::StatusOr<std::vector<runtime::ProcessInfo>> processes = ReadContainerProcesses(request);
  if (!processes.ok()) return self->StatsError(request, processes.status(), error);
  // Command lines may carry secrets (as the Command property may): root's to read. Others get
  // the short name the kernel keeps, "[sleep]".
  const bool full = CallerIsRoot(m);
  sd_bus_message* reply = nullptr;
  r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(uuutts)");
  for (const runtime::ProcessInfo& p : *processes) {
    if (r < 0) break;
    r = sd_bus_message_append(reply, "(uuutts)", static_cast<uint32_t>(p.host_pid), static_cast<uint32_t>(p.container_pid),
                              static_cast<uint32_t>(p.uid), p.cpu_usec, p.rss_bytes,
                              (full ? p.command : absl::StrCat("[", p.comm, "]")).c_str());
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  sd_bus_message_unref(reply);
  return r;
}

// ---- start ----

int Service::StartContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  // The user's start: a restart by the policy waiting for its back-off is this start now.
  if (record->state == ContainerState::kStopped) self->UserStarted(record);
  return self->Start(m, record, error);
}

// A start, for a caller (`m`, answered when it runs) or for the restart policy (m null).
int Service::Start(sd_bus_message* m, ContainerRecord* record, sd_bus_error* error) {
  Service* self = this;
  const std::string& name = record->config.name;
  if (record->state == ContainerState::kBroken) {
    return SetError(error, kErrorInvalidArgument,
                    absl::StrCat("container ", name, " is broken (", record->problem, "); remove it with rm"));
  }
  if (record->state != ContainerState::kStopped) {
    return SetError(error, kErrorAlreadyRunning,
                    absl::StrCat("container ", name, " is ", ContainerStateName(record->state), " already"));
  }

  // The scope of the last run may still be loaded for a moment after a stop (systemd collects
  // it once it notices it is empty); the systemd client then stops it and starts anew. A scope
  // of that name with processes in it is no such leftover: refuse rather than stop it.
  if (self->ScopeHasProcesses(record->unit())) {
    return SetError(error, kErrorAlreadyRunning,
                    absl::StrCat("the scope ", record->unit(), " exists and has processes that are not container ",
                                 name, "'s (left by an earlier corrald?); stop it first: systemctl stop ",
                                 record->unit()));
  }
  // The container's uid range is still its own in the pool; one created before corral gave
  // containers their own range gets one now.
  if (!record->config.privileged) {
    const uint32_t before = record->config.uid_base;
    if (absl::Status ids = self->registry_.EnsureIdRange(record); !ids.ok()) return StatusError(error, ids);
    if (record->config.uid_base != before) self->EmitChanged(record, {"UIDRange"});
  }
  runtime::PhaseTimer timer;
  // Volumes are opened here, outside the scope whose device policy would keep the supervisor
  // from a sized volume's loop device; the supervisor inherits the mounts.
  absl::StatusOr<std::vector<UniqueFd>> volume_trees = OpenVolumeTrees(record->config, self->options_.paths.volumes_root);
  if (!volume_trees.ok()) return StatusError(error, volume_trees.status());
  absl::StatusOr<SupervisorHandle> forked =
      ForkSupervisor({record->config, record->paths, self->options_.network_config, RawFds(*volume_trees)});
  volume_trees->clear();
  if (!forked.ok()) return StatusError(error, forked.status());
  timer.Mark("fork supervisor");
  auto running = std::make_unique<Running>();
  running->start_timer = std::move(timer);
  running->service = self;
  running->name = name;
  running->supervisor = forked->pid;
  running->supervisor_pidfd = std::move(forked->pidfd);
  running->go = std::move(forked->go);
  running->report = std::move(forked->report);
  running->exec_requests = std::move(forked->exec_requests);
  // Non-blocking: OnSupervisorExit drains it, and must not wait on it.
  ::fcntl(running->report.get(), F_SETFL, O_NONBLOCK);
  if (m != nullptr) running->waiting_start.push_back(sd_bus_message_ref(m));
  sd_event_add_io(
      self->event_, &running->report_source, running->report.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        auto* run = static_cast<Running*>(data);
        run->service->OnSupervisorReport(run->name);
        return 0;
      },
      running.get());
  self->WatchSupervisorExit(running.get());
  pid_t supervisor = running->supervisor;
  Running* run = running.get();
  self->running_[name] = std::move(running);
  self->SetState(record, ContainerState::kStarting);
  // A start nothing answers (a hung job, a supervisor stuck on a lock or a mount) is failed
  // and cleaned after the deadline, like a unit's TimeoutStartSec=; its container never runs.
  sd_event_add_time_relative(
      self->event_, &run->start_deadline, CLOCK_MONOTONIC, uint64_t{self->options_.start_timeout_seconds} * 1000000,
      0,
      [](sd_event_source*, uint64_t, void* data) -> int {
        auto* r = static_cast<Running*>(data);
        r->service->AbortStart(r->name, absl::DeadlineExceededError(absl::StrCat(
                                            "container ", r->name, " did not start within ",
                                            r->service->options_.start_timeout_seconds, " s; the start was stopped")));
        return 0;
      },
      run);

  ScopeSpec scope;
  scope.unit = record->unit();
  scope.description = absl::StrCat("corral container ", name);
  scope.pid = supervisor;
  scope.memory_max = record->config.memory_bytes;
  scope.tasks_max = record->config.tasks;
  scope.cpu_weight = record->config.cpu_weight;
  scope.cpu_quota_per_sec_usec = record->config.cpu_quota_percent * 10000;
  scope.device_allow = ScopeDeviceAllow(record->config);
  self->systemd_->StartScope(scope, [self, name, generation = run->generation](absl::Status status) {
    auto it = self->running_.find(name);
    // Gone, or another start's by now (this one was cancelled or timed out, and the name was
    // started again): its go belongs to its own scope's job.
    if (it == self->running_.end() || it->second->generation != generation) return;
    if (!status.ok()) {
      self->StartFailed(name, status);
      return;
    }
    it->second->start_timer.Mark("scope");
    char go = 1;
    if (::write(it->second->go.get(), &go, 1) != 1) self->StartFailed(name, ErrnoError("let the supervisor go"));
    it->second->go.reset();
  });
  return 1;  // the reply comes when the supervisor reports
}

// The supervisor's exit ends the container's run, whoever started it (this corrald or the
// one before a restart).
void Service::WatchSupervisorExit(Running* run) {
  sd_event_add_io(
      event_, &run->exit_source, run->supervisor_pidfd.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        auto* r = static_cast<Running*>(data);
        r->service->OnSupervisorExit(r->name);
        return 0;
      },
      run);
}

void Service::StartFailed(const std::string& name, const absl::Status& status) {
  auto it = running_.find(name);
  if (it == running_.end()) return;
  Running& run = *it->second;
  run.start_failed = true;
  if (run.start_error.ok()) run.start_error = status;
  run.failed_start_callers.insert(run.failed_start_callers.end(), run.waiting_start.begin(), run.waiting_start.end());
  run.waiting_start.clear();
  // Closing `go` makes a waiting supervisor exit; one that got further cleans up after itself
  // and exits. Either way its exit moves the state to stopped.
  run.go.reset();
  LogMessage(kPriorityErr, absl::StrCat("start of ", name, " failed: ", status.message()),
             {{"CORRAL_CONTAINER", name}, {"CORRAL_EVENT", "start-failed"}});
}

void Service::AbortStart(const std::string& name, const absl::Status& status) {
  auto it = running_.find(name);
  if (it == running_.end()) return;
  Running& run = *it->second;
  run.start_deadline = sd_event_source_disable_unref(run.start_deadline);
  StartFailed(name, status);
  // Wherever it is (waiting for the go, preparing, holding a half-started container): its
  // container dies with it (PR_SET_PDEATHSIG) and OnSupervisorExit undoes the rest.
  sys::PidfdSendSignal(run.supervisor_pidfd.get(), SIGKILL, nullptr, 0);
}

void Service::OnSupervisorReport(const std::string& name) {
  auto it = running_.find(name);
  if (it == running_.end()) return;
  Running& run = *it->second;
  char buffer[1024];
  ssize_t n = ::read(run.report.get(), buffer, sizeof(buffer));
  if (n < 0 && errno == EAGAIN) return;  // the pipe is non-blocking: nothing more for now
  if (n <= 0) {
    // EOF: the supervisor is gone or going; its pidfd says when.
    run.report_source = sd_event_source_disable_unref(run.report_source);
    return;
  }
  run.report_buffer.append(buffer, n);
  size_t newline;
  while ((newline = run.report_buffer.find('\n')) != std::string::npos) {
    std::string text = run.report_buffer.substr(0, newline);
    run.report_buffer.erase(0, newline + 1);
    absl::StatusOr<SupervisorReport> report = ParseSupervisorReport(text);  // dbus/supervisor_wire.h
    ContainerRecord* record = registry_.Find(name);
    if (record == nullptr || !report.ok()) continue;
    if (report->kind == SupervisorReport::Kind::kOk) {
      pid_t leader = report->leader;
      run.start_timer.Mark("supervisor");
      run.start_deadline = sd_event_source_disable_unref(run.start_deadline);
      record->start_phases = StartPhases(run);
      MarkRunning(record, leader, std::move(report->addresses));
      // The callers hear "running" once machinectl can see it too.
      // machined wants a host name, and corral allows '_': such names are not registered.
      bool registers = !absl::StrContains(name, '_');
      auto reply = [this, name, registers, registered_since = runtime::PhaseTimer::NowNs(),
                    callers = std::move(run.waiting_start)](absl::Status registered) {
        if (!registered.ok()) ::fprintf(stderr, "corrald: %s\n", std::string(registered.message()).c_str());
        if (ContainerRecord* r = registry_.Find(name); r != nullptr && registers) {
          r->start_phases.emplace_back("machined registration",
                                       (runtime::PhaseTimer::NowNs() - registered_since) / 1000);
        }
        for (sd_bus_message* call : callers) {
          sd_bus_reply_method_return(call, "");
          sd_bus_message_unref(call);
        }
      };
      run.waiting_start.clear();
      if (!registers) {
        reply(absl::OkStatus());
        continue;
      }
      systemd_->RegisterMachine(name, leader, record->paths.rootfs(), std::move(reply));
    } else if (report->kind == SupervisorReport::Kind::kPhases) {
      run.supervisor_phases = std::move(report->phases);
    } else if (report->kind == SupervisorReport::Kind::kReady) {
      record->ready = true;
      EmitChanged(record, {"Ready"});
    } else if (report->kind == SupervisorReport::Kind::kError) {
      StartFailed(name, absl::InternalError(absl::StrCat("start container ", name, ": ", report->message)));
    }
  }
}

bool Service::ScopeIsFrozen(const std::string& unit) {
  if (cgroup2_root_.empty()) {
    absl::StatusOr<std::string> root = Cgroup2MountPoint();
    if (!root.ok()) return false;
    cgroup2_root_ = *root;
  }
  // "frozen 1" when the scope or an ancestor is frozen, not when only a cgroup below it is.
  absl::StatusOr<std::string> events = ReadFile(absl::StrCat(cgroup2_root_, "/machine.slice/", unit, "/cgroup.events"));
  return events.ok() && absl::StrContains(*events, "frozen 1");
}

bool Service::ScopeHasProcesses(const std::string& unit) {
  if (cgroup2_root_.empty()) {
    absl::StatusOr<std::string> root = Cgroup2MountPoint();
    if (!root.ok()) return false;  // no cgroup2: systemd's own answer will tell
    cgroup2_root_ = *root;
  }
  // Transient scopes of corral live in machine.slice at the top of systemd's tree.
  absl::StatusOr<std::string> events = ReadFile(absl::StrCat(cgroup2_root_, "/machine.slice/", unit, "/cgroup.events"));
  return events.ok() && absl::StrContains(*events, "populated 1");
}

// corrald's phases with the supervisor's part broken down by the supervisor's own report, the
// rest of that part (its wait for the scope's go, reading the report) as "supervisor report".
std::vector<std::pair<std::string, uint64_t>> Service::StartPhases(const Running& run) {
  std::vector<std::pair<std::string, uint64_t>> phases;
  for (const auto& [phase, ns] : run.start_timer.phases()) {
    uint64_t us = static_cast<uint64_t>(ns) / 1000;
    if (phase != "supervisor" || run.supervisor_phases.empty()) {
      phases.emplace_back(phase, us);
      continue;
    }
    uint64_t reported = 0;
    for (const auto& supervisor_phase : run.supervisor_phases) {
      phases.push_back(supervisor_phase);
      reported += supervisor_phase.second;
    }
    phases.emplace_back("supervisor report", us > reported ? us - reported : 0);
  }
  return phases;
}

void Service::MarkRunning(ContainerRecord* record, pid_t leader, std::vector<std::string> addresses) {
  auto it = running_.find(record->config.name);
  if (it != running_.end()) it->second->leader_pidfd.reset(sys::PidfdOpen(leader, 0));
  const bool recovered = it != running_.end() && !it->second->report.valid();  // after corrald's restart
  record->leader = leader;
  record->addresses = std::move(addresses);
  record->state = ContainerState::kRunning;
  RunStarted(record, recovered);
  EmitChanged(record, AllChangingProperties());
}

void Service::OnSupervisorExit(const std::string& name) {
  auto it = running_.find(name);
  if (it == running_.end()) return;
  // Its last report lines (an "error" of a failed start) may still be in the pipe: the pidfd
  // and the pipe became ready together and the loop dispatched the pidfd first.
  if (it->second->report.valid()) OnSupervisorReport(name);
  std::unique_ptr<Running> run = std::move(it->second);
  running_.erase(it);
  siginfo_t info{};
  // Our child unless corrald restarted since; then init reaps it.
  bool reaped = ::waitid(P_PIDFD, run->supervisor_pidfd.get(), &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0;
  // Last, with the state stopped and the run directory gone (the destructor unrefs them).
  auto reply_failed_start = [&run]() {
    for (sd_bus_message* call : run->failed_start_callers) ReplyStatusError(call, run->start_error);
  };
  ContainerRecord* record = registry_.Find(name);
  if (record == nullptr) return reply_failed_start();
  bool was_running = record->leader != 0;  // it reported "ok", so it was registered with machined
  absl::StatusOr<std::string> exit_text = ReadFile(record->paths.exit_status());
  int exit_status = -1;
  if (exit_text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*exit_text), &exit_status)) {
    record->exit_status = exit_status;
  }
  bool failed_start = run->start_failed || !run->waiting_start.empty();
  std::string how = !reaped                         ? ""
                    : info.si_code == CLD_EXITED ? absl::StrCat(" (its supervisor exited with status ", info.si_status, ")")
                                                 : absl::StrCat(" (its supervisor was killed by signal ", info.si_status, ")");
  for (sd_bus_message* call : run->waiting_start) {
    ReplyStatusError(call, absl::InternalError(absl::StrCat("container ", name, " exited while starting", how)));
  }
  for (sd_bus_message* call : run->waiting_stop) sd_bus_reply_method_return(call, "");
  record->leader = 0;
  record->addresses.clear();
  record->ready = false;
  record->state = ContainerState::kStopped;
  RunEnded(record, was_running);
  EmitChanged(record, AllChangingProperties());
  // A supervisor killed by a signal (SIGKILL from systemd stopping its scope, the OOM killer)
  // could not unmount the container's rootfs: do it here, in the same mount namespace, so the
  // next start or `rm` finds no stale mount. After a clean exit it is not mounted (EINVAL).
  ::umount2(record->paths.rootfs().c_str(), MNT_DETACH);
  if (was_running && !absl::StrContains(name, '_')) systemd_->UnregisterMachine(name);
  if (failed_start) RemoveTree(record->paths.run_dir).IgnoreError();
  // A supervisor that did not exit cleanly left its forwards (and maybe its veth) behind.
  bool clean = reaped && info.si_code == CLD_EXITED && info.si_status == 0;
  if (!clean) {
    // Its container died with it (PR_SET_PDEATHSIG); anything else left in the scope (a
    // process that escaped the PID namespace's end, an exec between its steps) goes with the
    // scope. After a corrald restart the supervisor is not our child and `clean` is unknown:
    // the scope decides. Its mounts and state file are undone here, as its Cleanup would.
    if (reaped || ScopeHasProcesses(record->unit())) systemd_->KillAndStopScope(record->unit());
    ::umount2((record->paths.run_dir + "/lower").c_str(), MNT_DETACH);
    ::unlink(record->paths.state().c_str());
    ::unlink(record->paths.console_socket().c_str());
  }
  if (!clean && record->config.network == NetworkMode::kBridge) {
    ReclaimNetwork(absl::StrCat("after ", name, " ended").c_str());
  }
  reply_failed_start();
  // Last: a restart forks a new supervisor for the same name.
  if (was_running && !failed_start) MaybeRestart(record);
}

void Service::ReclaimNetwork(const char* why) {
  absl::StatusOr<netcfg::NetworkConfig> config = netcfg::LoadNetworkConfig(options_.network_config);
  absl::StatusOr<std::unique_ptr<netcfg::BridgeNetwork>> network =
      config.ok() ? netcfg::BridgeNetwork::Open(*config) : config.status();
  // A container this corrald runs (or starts) keeps everything; one it knows that does not run
  // keeps its address; a name it does not know keeps nothing unless a live process holds its
  // claim (a corral-run, or a supervisor this corrald has not adopted).
  auto judge = [this](const netcfg::Lease& lease, bool claimed) {
    using Fate = netcfg::BridgeNetwork::LeaseFate;
    if (claimed || running_.count(lease.container)) return Fate::kKeep;
    if (registry_.Find(lease.container) != nullptr) return Fate::kKeepAddress;
    return netcfg::RunLeaseLiveness(lease.container) == netcfg::RunLiveness::kAlive ? Fate::kKeep : Fate::kFree;
  };
  absl::StatusOr<netcfg::BridgeNetwork::Reclaimed> reclaimed =
      network.ok() ? (*network)->Reclaim(judge, {}) : network.status();
  if (!reclaimed.ok()) {
    // The leases lock is held by another process: once more from the loop a moment later (one
    // pass waiting at a time; it judges by what this corrald knows then). Any other failure (a
    // full disk refused the leases file) is retried every 5 s, so a forward of a container that
    // ended meanwhile is freed once there is room again.
    bool locked = reclaimed.status().code() == absl::StatusCode::kUnavailable;
    if (!locked && !network.ok()) {  // no network configured: nothing to retry for
      ::fprintf(stderr, "corrald: network reconciliation %s failed: %s\n", why,
                std::string(reclaimed.status().message()).c_str());
      return;
    }
    if (!locked) {
      ::fprintf(stderr, "corrald: network reconciliation %s failed (again in 5 s): %s\n", why,
                std::string(reclaimed.status().message()).c_str());
    }
    if (!reclaim_pending_) {
      reclaim_pending_ = true;
      std::string reason = why;
      RetryLater(event_, locked ? 10 * kLockRetryUsec : 5'000'000, [this, reason]() {
        reclaim_pending_ = false;
        ReclaimNetwork(reason.c_str());
        return true;
      });
    }
    return;
  }
  for (const std::string& line : reclaimed->Describe()) {
    ::fprintf(stderr, "corrald: reclaimed %s: %s\n", why, line.c_str());
  }
}

// ---- stop, kill ----

int Service::StopContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  return self->Stop(m, record, self->options_.default_stop_timeout_seconds, error);
}

int Service::StopContainerWithTimeout(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  uint32_t timeout = 0;
  if ((r = sd_bus_message_read(m, "u", &timeout)) < 0) return r;
  return self->Stop(m, record, timeout, error);
}

int Service::Stop(sd_bus_message* m, ContainerRecord* record, uint32_t timeout_seconds, sd_bus_error* error) {
  const std::string& name = record->config.name;
  // Never restarted after this; a restart waiting for its back-off is called off (and the stop
  // is done: the container is stopped).
  record->stopped_by_user = true;
  if (CancelRestart(record) && record->state == ContainerState::kStopped) return sd_bus_reply_method_return(m, "");
  auto it = running_.find(name);
  if (it != running_.end() && record->state == ContainerState::kStarting) {
    // A stop cancels a start under way; it is done when the supervisor is gone.
    it->second->waiting_stop.push_back(sd_bus_message_ref(m));
    AbortStart(name, absl::CancelledError(absl::StrCat("the start of container ", name, " was cancelled by a stop")));
    SetState(record, ContainerState::kStopping);
    return 1;
  }
  if (it == running_.end() || record->state == ContainerState::kStopped) {
    return SetError(error, kErrorNotRunning, absl::StrCat("container ", name, " is ", ContainerStateName(record->state)));
  }
  Running& run = *it->second;
  run.waiting_stop.push_back(sd_bus_message_ref(m));
  if (record->state == ContainerState::kStopping) return 1;  // joins the stop under way
  BeginStop(record, run, timeout_seconds);
  return 1;
}

void Service::BeginStop(ContainerRecord* record, Running& run, uint32_t timeout_seconds) {
  SetState(record, ContainerState::kStopping);
  int halt = timeout_seconds == 0              ? SIGKILL
             : record->config.stop_signal != 0 ? record->config.stop_signal  // an OCI image's StopSignal
                                               : HaltSignal(ContainerInit(record->config));
  sys::PidfdSendSignal(run.leader_pidfd.get(), halt, nullptr, 0);
  if (halt != SIGKILL) {
    // Killing PID 1 of the container's PID namespace takes every process in it along.
    sd_event_add_time_relative(
        event_, &run.stop_timer, CLOCK_MONOTONIC, uint64_t{timeout_seconds} * 1000000, 0,
        [](sd_event_source*, uint64_t, void* data) -> int {
          auto* r = static_cast<Running*>(data);
          sys::PidfdSendSignal(r->leader_pidfd.get(), SIGKILL, nullptr, 0);
          return 0;
        },
        &run);
  }
}

int Service::KillContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  const std::string& name = record->config.name;
  int32_t signal = 0;
  if ((r = sd_bus_message_read(m, "i", &signal)) < 0) return r;
  if (signal < 1 || signal > SIGRTMAX) {
    return SetError(error, kErrorInvalidArgument, absl::StrCat("signal ", signal, " does not exist"));
  }
  auto it = self->running_.find(name);
  if (it == self->running_.end() || !it->second->leader_pidfd.valid()) {
    return SetError(error, kErrorNotRunning, absl::StrCat("container ", name, " is not running"));
  }
  record->stopped_by_user = true;  // what the user kills is not restarted by the policy
  if (sys::PidfdSendSignal(it->second->leader_pidfd.get(), signal, nullptr, 0) != 0) {
    return StatusError(error, ErrnoError(absl::StrCat("signal container ", name)));
  }
  return sd_bus_reply_method_return(m, "");
}

// ---- console, exec ----

int Service::OpenConsole(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  const std::string& name = record->config.name;
  if (record->state != ContainerState::kRunning) {
    return SetError(error, kErrorNotRunning, absl::StrCat("container ", name, " is not running"));
  }
  // Answered from the loop when the supervisor hands the session over (or fails to in time).
  sd_bus_message_ref(m);
  RequestConsoleAsync(self->event_, record->paths, kConsoleRequestTimeoutUsec,
                      [m](absl::StatusOr<ConsoleSession> session) {
                        if (session.ok()) {
                          sd_bus_reply_method_return(m, "hs", session->master.get(), session->pty.c_str());
                        } else {
                          ReplyStatusError(m, session.status());
                        }
                        sd_bus_message_unref(m);
                      });
  return 1;
}

namespace {

// An exec refused before it started: the contract's error and its text.
struct ExecRefusal {
  const char* name;
  std::string message;
};

// The checks every exec request passes, from the bus or the exec socket alike, and the spec
// made of it (stdio still to be set). `pty_receiver` is the PtyReceiver socket, or -1.
std::optional<ExecRefusal> SpecFromRequest(const ExecRequest& request, int pty_receiver, runtime::AttachSpec* spec) {
  if (request.command.empty()) return ExecRefusal{kErrorInvalidArgument, "no command given"};
  spec->command = request.command;
  spec->env = request.env;
  for (const std::string& e : spec->env) {
    if (e.find('=') == std::string::npos || e[0] == '=') {
      return ExecRefusal{kErrorInvalidArgument, absl::StrCat("environment entry \"", e, "\" is not KEY=VALUE")};
    }
  }
  if (!request.cwd.empty()) spec->cwd = request.cwd;
  if (!request.user.empty()) {
    std::vector<std::string> ids = absl::StrSplit(request.user, ':');
    uint32_t uid = 0, gid = 0;
    if (ids.size() > 2 || !absl::SimpleAtoi(ids[0], &uid) || (ids.size() == 2 && !absl::SimpleAtoi(ids[1], &gid))) {
      return ExecRefusal{kErrorInvalidArgument, absl::StrCat("User \"", request.user, "\" is not UID[:GID]")};
    }
    spec->uid = uid;
    spec->gid = ids.size() == 2 ? gid : uid;
  }
  spec->controlling_tty = request.tty;
  if (pty_receiver >= 0) {
    if (!spec->controlling_tty) return ExecRefusal{kErrorInvalidArgument, "PtyReceiver needs Tty"};
    struct stat st;
    int type = 0;
    socklen_t len = sizeof(type);
    if (::fstat(pty_receiver, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        ::getsockopt(pty_receiver, SOL_SOCKET, SO_DOMAIN, &type, &len) != 0 || type != AF_UNIX) {
      return ExecRefusal{kErrorInvalidArgument, "PtyReceiver is not a unix socket"};
    }
    spec->allocate_pty = true;
  }
  return std::nullopt;
}

}  // namespace

int Service::Exec(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  ExecRequest request;
  UniqueFd pty_receiver;
  if ((r = ReadStrv(m, &request.command)) < 0) return r;
  r = ReadOptions(m, [&](const std::string& key) -> int {
    int q;
    if (key == "Environment") {
      if ((q = EnterVariant(m, "Environment", "as", error)) < 0 || (q = ReadStrv(m, &request.env)) < 0) return q;
    } else if (key == "User" || key == "Cwd") {
      const char* value = nullptr;
      if ((q = EnterVariant(m, key.c_str(), "s", error)) < 0 || (q = sd_bus_message_read(m, "s", &value)) < 0) return q;
      (key == "Cwd" ? request.cwd : request.user) = value;
      // An empty User would read as root; on the bus it was always an error.
      if (key == "User" && request.user.empty()) {
        return SetError(error, kErrorInvalidArgument, "User \"\" is not UID[:GID]");
      }
    } else if (key == "Tty") {
      int tty = 0;
      if ((q = EnterVariant(m, "Tty", "b", error)) < 0 || (q = sd_bus_message_read(m, "b", &tty)) < 0) return q;
      request.tty = tty;
    } else if (key == "PtyReceiver") {
      int fd = -1;
      if ((q = EnterVariant(m, "PtyReceiver", "h", error)) < 0 || (q = sd_bus_message_read(m, "h", &fd)) < 0) return q;
      pty_receiver.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
      if (!pty_receiver) return StatusError(error, ErrnoError("dup the PtyReceiver socket"));
    } else {
      return SetError(error, kErrorInvalidArgument,
                      absl::StrCat("unknown option ", key, " (known: Environment, User, Cwd, Tty, PtyReceiver)"));
    }
    return sd_bus_message_exit_container(m);
  }, error);
  if (r < 0) return r;
  runtime::AttachSpec spec;
  if (std::optional<ExecRefusal> refused = SpecFromRequest(request, pty_receiver.get(), &spec)) {
    return SetError(error, refused->name, refused->message);
  }
  if ((r = sd_bus_message_read(m, "hhh", &spec.stdin_fd, &spec.stdout_fd, &spec.stderr_fd)) < 0) return r;
  PendingExec* pending = nullptr;
  absl::Status begun = self->BeginExec(record, spec, std::move(pty_receiver), &pending);
  if (!begun.ok()) {
    const char* name = begun.code() == absl::StatusCode::kFailedPrecondition ? kErrorNotRunning : nullptr;
    return name != nullptr ? SetError(error, name, begun.message()) : StatusError(error, begun);
  }
  pending->call = sd_bus_message_ref(m);
  sd_bus* bus = sd_bus_message_get_bus(m);
  if (sd_bus_is_bus_client(bus) > 0 &&
      sd_bus_track_new(
          bus, &pending->caller,
          [](sd_bus_track*, void* data) -> int {
            static_cast<PendingExec*>(data)->CallerGone();
            return 0;
          },
          pending) >= 0) {
    sd_bus_track_add_sender(pending->caller, m);
  }
  return 1;
}

absl::Status Service::ListenExec(const std::string& path) {
  ASSIGN_OR_RETURN(exec_socket_, ExecSocket::Listen(event_, path, [this](ExecSocketCall call) {
                     ExecFromSocket(std::move(call));
                   }));
  return absl::OkStatus();
}

void Service::ExecFromSocket(ExecSocketCall call) {
  auto refuse = [&call](const char* name, absl::string_view message) {
    ExecReply reply;
    reply.error_name = name;
    reply.message = ValidUtf8(message);
    SendExecReply(call.connection.get(), reply);
  };
  // The socket let only root in (ExecSocket::Accept); the rest is what Target checks.
  if (absl::Status valid = runtime::ValidateContainerName(call.request.name); !valid.ok()) {
    return refuse(kErrorInvalidName, valid.message());
  }
  ContainerRecord* record = registry_.Find(call.request.name);
  if (record == nullptr) return refuse(kErrorNoSuchContainer, absl::StrCat("no container named ", call.request.name));
  UniqueFd pty_receiver;
  if (call.request.pty_receiver) pty_receiver = std::move(call.fds[kExecStdioFds]);
  runtime::AttachSpec spec;
  if (std::optional<ExecRefusal> refused = SpecFromRequest(call.request, pty_receiver.get(), &spec)) {
    return refuse(refused->name, refused->message);
  }
  spec.stdin_fd = call.fds[0].get();
  spec.stdout_fd = call.fds[1].get();
  spec.stderr_fd = call.fds[2].get();
  PendingExec* pending = nullptr;
  absl::Status begun = BeginExec(record, spec, std::move(pty_receiver), &pending);
  if (!begun.ok()) {
    if (begun.code() == absl::StatusCode::kFailedPrecondition) return refuse(kErrorNotRunning, begun.message());
    sd_bus_error error = SD_BUS_ERROR_NULL;
    StatusError(&error, begun);
    refuse(error.name, error.message != nullptr ? error.message : "");
    sd_bus_error_free(&error);
    return;
  }
  pending->connection = std::move(call.connection);
  // The caller gone (Ctrl-C on corralctl) takes its command, as on the bus.
  int r = sd_event_add_io(
      event_, &pending->hangup, pending->connection.get(), EPOLLRDHUP,
      [](sd_event_source* source, int, uint32_t, void* data) -> int {
        sd_event_source_set_enabled(source, SD_EVENT_OFF);
        static_cast<PendingExec*>(data)->CallerGone();
        return 0;
      },
      pending);
  if (r < 0) pending->CallerGone();
}

// Starts `spec` in `record`'s container; the caller then says where the answer goes. Errors:
// kFailedPrecondition when the container is not running or frozen, else the attach's own.
absl::Status Service::BeginExec(ContainerRecord* record, const runtime::AttachSpec& request_spec,
                                UniqueFd pty_receiver, PendingExec** out) {
  const std::string& name = record->config.name;
  runtime::AttachSpec spec = request_spec;
  auto it = running_.find(name);
  if (record->state != ContainerState::kRunning || it == running_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("container ", name, " is not running"));
  }
  Running& run = *it->second;
  if (!run.payload_cgroup.valid()) {
    absl::StatusOr<UniqueFd> cgroup = OpenCgroupOf(record->leader);
    if (cgroup.ok()) run.payload_cgroup = std::move(*cgroup);
  }
  spec.cgroup_fd = run.payload_cgroup.get();
  // A frozen scope (cgroup2's freezer from outside: `systemctl freeze`, the scope's
  // cgroup.freeze) would freeze the exec's helper the moment it enters: refused at once, by
  // name, instead of failing after the exec's start timeout. A container that froze its own
  // payload (its delegated cgroup.freeze) gets that timeout, never the loop stuck (and never a
  // host fd: exec_escape_test).
  if (ScopeIsFrozen(record->unit())) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", name, " is frozen: nothing can be executed in it until it is thawed "
                     "(systemctl thaw ", record->unit(), ")"));
  }
  // Never waits: the helper reports on a socket the loop watches (see PendingExec). The
  // supervisor starts it when it can (no cgroup moves: supervisor_exec.h); else we do.
  absl::StatusOr<std::unique_ptr<runtime::AttachInProgress>> attach =
      RequestExecFromSupervisor(run.exec_requests.get(), spec);
  if (!attach.ok()) attach = runtime::AttachInProgress::Start(run.leader_pidfd.get(), spec);
  if (!attach.ok()) return attach.status();

  auto* pending = new PendingExec;
  pending->service = this;
  pending->attach = std::move(*attach);
  pending->pty_receiver = std::move(pty_receiver);
  int r = sd_event_add_io(
      event_, &pending->attach_source, pending->attach->fd(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        static_cast<PendingExec*>(data)->service->ExecReport(static_cast<PendingExec*>(data));
        return 0;
      },
      pending);
  if (r >= 0) {
    r = sd_event_add_time_relative(
        event_, &pending->start_timer, CLOCK_MONOTONIC, kExecStartTimeoutUsec, 0,
        [](sd_event_source*, uint64_t, void* data) -> int {
          static_cast<PendingExec*>(data)->attach->Abort(absl::DeadlineExceededError(absl::StrCat(
              "the command did not start within ", kExecStartTimeoutUsec / 1000000,
              " s (something in the container holds its execve back); it was killed")));
          return 0;
        },
        pending);
  }
  if (r < 0) {
    delete pending;  // kills and reaps what started
    return ErrnoError(-r, "watch the exec's start");
  }
  execs_.insert(pending);
  *out = pending;
  return absl::OkStatus();
}

void Service::ExecReport(PendingExec* pending) {
  if (!pending->attach->OnReadable()) return;
  pending->attach_source = sd_event_source_disable_unref(pending->attach_source);
  pending->start_timer = sd_event_source_disable_unref(pending->start_timer);
  absl::StatusOr<runtime::AttachedProcess> process = pending->attach->Result();
  pending->attach.reset();
  if (!process.ok()) {
    pending->Finish(process.status());
    delete pending;
    return;
  }
  pending->process = std::move(*process);
  if (pending->process.pty_master) {
    // The -t pty's master goes to the caller on its socket; never waiting for it.
    absl::Status passed = SendFd(pending->pty_receiver.get(), pending->process.pty_master.get());
    pending->process.pty_master.reset();
    pending->pty_receiver.reset();
    if (!passed.ok()) {
      runtime::KillAndReapAttached(pending->process);  // bounded: never stalls the loop
      pending->Finish(Annotate(passed, "pass the pty to the caller"));
      delete pending;
      return;
    }
  }
  int r = sd_event_add_io(
      event_, &pending->source, pending->process.pidfd.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        std::unique_ptr<PendingExec> done(static_cast<PendingExec*>(data));
        done->Finish(runtime::WaitAttached(done->process));
        return 0;
      },
      pending);
  if (r < 0) {
    runtime::KillAndReapAttached(pending->process);
    pending->Finish(ErrnoError(-r, "watch the exec'd command"));
    delete pending;
  }
}

// ---- after a restart ----

void Service::Recover(ContainerRecord* record) {
  if (record->state == ContainerState::kBroken) return;  // its config is unknown: nothing to adopt
  absl::StatusOr<std::string> text = ReadFile(record->paths.state());
  absl::StatusOr<SupervisorState> state = text.ok() ? ParseSupervisorState(*text) : text.status();
  if (!state.ok()) {
    // No state file, or garbage in it: the scope is the truth. A supervisor in its leaf with
    // the container as its child runs that container, whatever the file says.
    absl::StatusOr<SupervisorState> found = StateFromScope(Cgroup2MountPoint().value_or(""), record->unit());
    if (!found.ok()) {
      if (text.ok()) ::unlink(record->paths.state().c_str());  // a stale or garbage file of a stopped one
      return;  // not running
    }
    ::fprintf(stderr, "corrald: %s: %s; found its supervisor %d and leader %d in %s\n", record->config.name.c_str(),
              text.ok() ? std::string(state.status().message()).c_str() : "no state file", found->supervisor,
              found->leader, record->unit().c_str());
    state = std::move(found);
    // Written again, so the next corrald need not search (the supervisor removes it at its end).
    WriteFileAtomically(record->paths.state(), FormatSupervisorState(*state), 0644, Durability::kProcessCrashSafe)
        .IgnoreError();
  }
  UniqueFd supervisor(state.ok() ? sys::PidfdOpen(state->supervisor, 0) : -1);
  // The pid must still be that supervisor, not a recycled number: it lives in our scope.
  absl::StatusOr<std::string> cgroup =
      state.ok() ? ReadFile(absl::StrCat("/proc/", state->supervisor, "/cgroup")) : absl::NotFoundError("");
  if (!supervisor.valid() || !cgroup.ok() || !absl::StrContains(*cgroup, record->unit())) {
    // A supervisor that died without cleaning up (killed with the whole scope).
    ::umount2(record->paths.rootfs().c_str(), MNT_DETACH);
    ::unlink(record->paths.state().c_str());
    return;
  }
  auto running = std::make_unique<Running>();
  running->service = this;
  running->name = record->config.name;
  running->supervisor = state->supervisor;
  running->supervisor_pidfd = std::move(supervisor);
  WatchSupervisorExit(running.get());
  running_[record->config.name] = std::move(running);
  MarkRunning(record, state->leader, state->addresses);
}

}  // namespace corral::dbus
