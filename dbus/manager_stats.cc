// The Manager's methods that look into a running container, GetStats and Top (container_stats.h
// does the reading; open to every caller: `ps` and /sys/fs/cgroup show the same), and SetLimits
// (root's; the lifecycle applies and saves them).
#include <signal.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "dbus/bus_errors.h"
#include "dbus/bus_ptr.h"
#include "dbus/caller.h"
#include "dbus/error_kind.h"
#include "dbus/interface.h"
#include "dbus/limits.h"
#include "dbus/service.h"

namespace corral::dbus {

// The running container `m` names, for a method every user may call (the figures are not
// secret: `ps` and /sys/fs/cgroup show them too); nullptr with *r set otherwise.
ContainerRecord* Service::RunningTarget(sd_bus_message* m, sd_bus_error* error, int* r, StatsRequest* request) {
  std::string name;
  if (!ReadName(m, error, r, &name)) return nullptr;
  ContainerRecord* record = registry_.Find(name);
  if (record == nullptr) {
    *r = StatusError(error, NoSuchContainerError(name));
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
  sd_bus_message* raw = nullptr;
  r = sd_bus_message_new_method_return(m, &raw);
  MessagePtr owned(raw);
  sd_bus_message* reply = owned.get();
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "{sv}");
  for (const StatsEntry& entry : *stats) {
    if (r < 0) break;
    r = entry.is_text ? sd_bus_message_append(reply, "{sv}", entry.key.c_str(), "s", entry.text.c_str())
                      : sd_bus_message_append(reply, "{sv}", entry.key.c_str(), "t", entry.number);
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
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
  sd_bus_message* raw = nullptr;
  r = sd_bus_message_new_method_return(m, &raw);
  MessagePtr owned(raw);
  sd_bus_message* reply = owned.get();
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(uuutts)");
  for (const runtime::ProcessInfo& p : *processes) {
    if (r < 0) break;
    r = sd_bus_message_append(reply, "(uuutts)", static_cast<uint32_t>(p.host_pid), static_cast<uint32_t>(p.container_pid),
                              static_cast<uint32_t>(p.uid), p.cpu_usec, p.rss_bytes,
                              (full ? p.command : absl::StrCat("[", p.comm, "]")).c_str());
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  return r;
}

int Service::SetLimits(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  LimitsChange change;
  std::string problem;
  if ((r = ReadLimits(m, &change, &problem)) < 0) return r;
  if (!problem.empty()) return SetError(error, kErrorInvalidArgument, problem);
  absl::Status setting = self->lifecycle_->SetLimits(record, change, ReplyWhenDone(m));
  if (!setting.ok()) return StatusError(error, setting);
  return 1;  // answered when systemd has applied them (at once for a stopped container)
}

}  // namespace corral::dbus
