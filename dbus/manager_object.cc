// The Manager object's vtable and its methods on the set of containers: create, remove,
// list, get, the host check, volumes. (Start, stop, kill, console and exec: manager_run.cc;
// stats, top and limits: manager_stats.cc.)
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "dbus/bus_errors.h"
#include "dbus/bus_ptr.h"
#include "dbus/caller.h"
#include "dbus/container_object.h"
#include "dbus/error_kind.h"
#include "dbus/event_log.h"
#include "dbus/interface.h"
#include "dbus/options.h"
#include "dbus/retry.h"
#include "dbus/service.h"
#include "dbus/volume_methods.h"
#include "netcfg/config.h"
#include "netcfg/network.h"

namespace corral::dbus {

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

int Service::VolumeCall(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  int r = 0;
  if (!RequireRoot(m, error, &r)) return r;
  return HandleVolumeCall(m, static_cast<Service*>(userdata)->registry_, error);
}

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
  if ((r = ReadCreateOptions(m, &config, error)) < 0) return r;
  absl::StatusOr<ContainerRecord*> created = self->lifecycle_->Create(std::move(config));
  if (!created.ok()) return StatusError(error, created.status());
  std::string path = ContainerPath(name);
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
  std::shared_ptr<sd_bus_message> call = ShareMessage(m);
  bool retrying = RetryLater(self->event_, kLockRetryUsec, [self, call, name, deadline]() {
    BusErrorHolder e;
    bool again = false;
    int q = self->FinishRemove(call.get(), name, deadline, e.get(), &again);
    if (again) return false;
    if (q < 0) {
      if (e.is_set()) {
        sd_bus_reply_method_error(call.get(), e.get());
      } else {
        sd_bus_reply_method_errno(call.get(), q, nullptr);
      }
    }
    return true;
  });
  if (!retrying) return SetError(error, kErrorFailed, absl::StrCat("rm ", name, ": cannot wait for the leases lock"));
  return 1;
}

int Service::FinishRemove(sd_bus_message* m, const std::string& name, uint64_t deadline_usec, sd_bus_error* error,
                          bool* busy) {
  absl::Status removed = lifecycle_->Remove(name, deadline_usec, busy);
  if (*busy) return 0;
  if (!removed.ok()) return StatusError(error, removed);
  std::string path = ContainerPath(name);
  sd_bus_emit_signal(bus_, kManagerPath, kManagerInterface, "ContainerRemoved", "so", name.c_str(), path.c_str());
  LogRemoved(name);
  return sd_bus_reply_method_return(m, "");
}

int Service::ListContainers(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<Service*>(userdata);
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_return(m, &raw);
  MessagePtr owned(raw);
  sd_bus_message* reply = owned.get();
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(ssuo)");
  for (ContainerRecord* record : self->registry_.List()) {
    if (r < 0) break;
    r = sd_bus_message_append(reply, "(ssuo)", record->config.name.c_str(),
                              std::string(ContainerStateName(record->state)).c_str(),
                              static_cast<uint32_t>(record->leader), ContainerPath(record->config.name).c_str());
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  return r;
}

int Service::GetContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  std::string name;
  if (!ReadName(m, error, &r, &name)) return r;
  if (self->registry_.Find(name) == nullptr) return StatusError(error, NoSuchContainerError(name));
  return sd_bus_reply_method_return(m, "o", ContainerPath(name).c_str());
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
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_return(m, &raw);
  MessagePtr owned(raw);
  sd_bus_message* reply = owned.get();
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "s");
  for (const std::string& w : warnings) {
    if (r >= 0) r = sd_bus_message_append(reply, "s", w.c_str());
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  return r;
}

}  // namespace corral::dbus
