#include "dbus/options.h"

#include <fcntl.h>

#include <cerrno>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "dbus/bus_errors.h"
#include "dbus/interface.h"
#include "dbus/restart_policy.h"
#include "dbus/storage_options.h"
#include "netcfg/ports.h"
#include "runtime/devices.h"

namespace corral::dbus {

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

int ReadOptions(sd_bus_message* m, const std::function<int(const std::string& key)>& read_one, sd_bus_error* error) {
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

namespace {

// ---- CreateContainer ----

// One option's reader, called inside its variant (of the table's signature).
using CreateReader = int (*)(sd_bus_message* m, const std::string& key, ContainerConfig* config, sd_bus_error* error);

int ReadNumber(sd_bus_message* m, const std::string& key, ContainerConfig* config, sd_bus_error*) {
  uint64_t value = 0;
  int r = sd_bus_message_read(m, "t", &value);
  if (r < 0) return r;
  (key == "Memory"      ? config->memory_bytes
   : key == "Tasks"     ? config->tasks
   : key == "CPUWeight" ? config->cpu_weight
                        : config->cpu_quota_percent) = value;
  return 0;
}

int ReadRestart(sd_bus_message* m, const std::string&, ContainerConfig* config, sd_bus_error* error) {
  const char* value = nullptr;
  int r = sd_bus_message_read(m, "s", &value);
  if (r < 0) return r;
  absl::StatusOr<RestartPolicy> policy = ParseRestartPolicy(value);
  if (!policy.ok()) return StatusError(error, policy.status());
  config->restart = FormatRestartPolicy(*policy);
  return 0;
}

int ReadNetwork(sd_bus_message* m, const std::string&, ContainerConfig* config, sd_bus_error* error) {
  const char* value = nullptr;
  int r = sd_bus_message_read(m, "s", &value);
  if (r < 0) return r;
  absl::StatusOr<NetworkMode> mode = ParseNetworkMode(value);
  if (!mode.ok()) return StatusError(error, mode.status());
  config->network = *mode;
  return 0;
}

int ReadHostname(sd_bus_message* m, const std::string&, ContainerConfig* config, sd_bus_error*) {
  const char* value = nullptr;
  int r = sd_bus_message_read(m, "s", &value);
  if (r < 0) return r;
  config->hostname = value;
  return 0;
}

int ReadPorts(sd_bus_message* m, const std::string&, ContainerConfig* config, sd_bus_error* error) {
  int r = sd_bus_message_enter_container(m, 'a', "(sqq)");
  if (r < 0) return r;
  const char* protocol = nullptr;
  uint16_t host = 0, container = 0;
  while ((r = sd_bus_message_read(m, "(sqq)", &protocol, &host, &container)) > 0) {
    absl::StatusOr<netcfg::PortForward> forward =
        netcfg::ParsePortForward(absl::StrCat(protocol, ":", host, ":", container));
    if (!forward.ok()) return StatusError(error, forward.status());
    config->ports.push_back(*forward);
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

int ReadCommandOrEnv(sd_bus_message* m, const std::string& key, ContainerConfig* config, sd_bus_error*) {
  return ReadStrv(m, key == "Command" ? &config->command : &config->env);
}

int ReadFlag(sd_bus_message* m, const std::string& key, ContainerConfig* config, sd_bus_error*) {
  int value = 0;
  int r = sd_bus_message_read(m, "b", &value);
  if (r < 0) return r;
  (key == "Boot" ? config->boot : config->privileged) = value;
  return 0;
}

// Each "/dev/X[:rwm]" must name a device node of this host now; stored normalized.
int ReadDevices(sd_bus_message* m, const std::string&, ContainerConfig* config, sd_bus_error* error) {
  std::vector<std::string> texts;
  int r = ReadStrv(m, &texts);
  if (r < 0) return r;
  for (const std::string& text : texts) {
    absl::StatusOr<runtime::DeviceSpec> device = runtime::ParseDeviceSpec(text);
    if (!device.ok()) return SetError(error, kErrorInvalidArgument, absl::StrCat("Devices: ", device.status().message()));
    config->devices.push_back(runtime::FormatDeviceSpec(*device));
  }
  return 0;
}

struct CreateOption {
  const char* key;
  const char* signature;  // nullptr: the reader enters the variant itself (storage_options.h)
  CreateReader read;
};

int ReadStorage(sd_bus_message* m, const std::string& key, ContainerConfig* config, sd_bus_error* error) {
  absl::Status invalid;
  int r = ReadStorageOption(m, key, config, &invalid);
  if (r < 0) return r;
  if (!invalid.ok()) return StatusError(error, invalid);
  return 0;
}

// In the order the unknown-option error lists them.
constexpr CreateOption kCreateOptions[] = {
    {"Memory", "t", ReadNumber},         {"Tasks", "t", ReadNumber},
    {"CPUWeight", "t", ReadNumber},      {"CPUQuota", "t", ReadNumber},
    {"Restart", "s", ReadRestart},       {"Network", "s", ReadNetwork},
    {"Hostname", "s", ReadHostname},     {"Ports", "a(sqq)", ReadPorts},
    {"Command", "as", ReadCommandOrEnv}, {"Environment", "as", ReadCommandOrEnv},
    {"Boot", "b", ReadFlag},             {"Privileged", "b", ReadFlag},
    {"Devices", "as", ReadDevices},      {"Binds", nullptr, ReadStorage},
    {"IdmappedBinds", nullptr, ReadStorage}, {"Tmpfs", nullptr, ReadStorage},
    {"Volumes", nullptr, ReadStorage},
};

int ReadCreateOption(sd_bus_message* m, const std::string& key, ContainerConfig* config, sd_bus_error* error) {
  for (const CreateOption& option : kCreateOptions) {
    if (key != option.key) continue;
    int r;
    if (option.signature == nullptr) {
      // Binds, IdmappedBinds, Tmpfs, Volumes: dbus/storage_options.h enters the variant.
      if (!IsStorageOption(key)) break;
      if ((r = option.read(m, key, config, error)) < 0) return r;
      return sd_bus_message_exit_container(m);
    }
    if ((r = EnterVariant(m, option.key, option.signature, error)) < 0) return r;
    if ((r = option.read(m, key, config, error)) < 0) return r;
    return sd_bus_message_exit_container(m);
  }
  std::vector<std::string> known;
  for (const CreateOption& option : kCreateOptions) known.push_back(option.key);
  return SetError(error, kErrorInvalidArgument,
                  absl::StrCat("unknown option ", key, " (known: ", absl::StrJoin(known, ", "), ")"));
}

// ---- Exec ----

int ReadExecOption(sd_bus_message* m, const std::string& key, ExecRequest* request, UniqueFd* pty_receiver,
                   sd_bus_error* error) {
  int q;
  if (key == "Environment") {
    if ((q = EnterVariant(m, "Environment", "as", error)) < 0 || (q = ReadStrv(m, &request->env)) < 0) return q;
  } else if (key == "User" || key == "Cwd") {
    const char* value = nullptr;
    if ((q = EnterVariant(m, key.c_str(), "s", error)) < 0 || (q = sd_bus_message_read(m, "s", &value)) < 0) return q;
    (key == "Cwd" ? request->cwd : request->user) = value;
    // An empty User would read as root; on the bus it was always an error.
    if (key == "User" && request->user.empty()) return SetError(error, kErrorInvalidArgument, "User \"\" is not UID[:GID]");
  } else if (key == "Tty") {
    int tty = 0;
    if ((q = EnterVariant(m, "Tty", "b", error)) < 0 || (q = sd_bus_message_read(m, "b", &tty)) < 0) return q;
    request->tty = tty;
  } else if (key == "PtyReceiver") {
    int fd = -1;
    if ((q = EnterVariant(m, "PtyReceiver", "h", error)) < 0 || (q = sd_bus_message_read(m, "h", &fd)) < 0) return q;
    pty_receiver->reset(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (!*pty_receiver) return StatusError(error, ErrnoError("dup the PtyReceiver socket"));
  } else {
    return SetError(error, kErrorInvalidArgument,
                    absl::StrCat("unknown option ", key, " (known: Environment, User, Cwd, Tty, PtyReceiver)"));
  }
  return sd_bus_message_exit_container(m);
}

}  // namespace

int ReadCreateOptions(sd_bus_message* m, ContainerConfig* config, sd_bus_error* error) {
  return ReadOptions(m, [&](const std::string& key) { return ReadCreateOption(m, key, config, error); }, error);
}

int ReadExecOptions(sd_bus_message* m, ExecRequest* request, UniqueFd* pty_receiver, sd_bus_error* error) {
  return ReadOptions(m, [&](const std::string& key) { return ReadExecOption(m, key, request, pty_receiver, error); },
                     error);
}

}  // namespace corral::dbus
