// Service::SetLimits (dbus/limits.h has the parsing and the mapping to systemd's properties).
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/utf8.h"
#include "dbus/interface.h"
#include "dbus/event_log.h"
#include "dbus/journal_log.h"
#include "dbus/limits.h"
#include "dbus/service.h"

namespace corral::dbus {
namespace {

int Error(sd_bus_error* error, const char* name, absl::string_view message) {
  return sd_bus_error_set(error, name, ValidUtf8(message).c_str());
}

void ReplyError(sd_bus_message* call, const char* name, absl::string_view message) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  Error(&error, name, message);
  sd_bus_reply_method_error(call, &error);
  sd_bus_error_free(&error);
}

std::string Describe(const ContainerConfig& c) {
  auto or_none = [](uint64_t v) { return v == 0 ? std::string("none") : absl::StrCat(v); };
  return absl::StrCat("memory=", or_none(c.memory_bytes), " tasks=", or_none(c.tasks),
                      " cpu_weight=", or_none(c.cpu_weight), " cpu_quota=",
                      c.cpu_quota_percent == 0 ? std::string("none") : absl::StrCat(c.cpu_quota_percent, "%"));
}

}  // namespace

// The config with `change` saved for the next start, the properties signalled, the journal told.
absl::Status Service::SaveLimits(ContainerRecord* record, const LimitsChange& change, bool applied_live) {
  absl::StatusOr<ContainerConfig> updated = ApplyLimits(record->config, change);
  if (!updated.ok()) return updated.status();
  absl::Status written = WriteFileAtomically(record->paths.config(), FormatConfig(*updated), 0600);
  if (!written.ok()) return written;
  record->config = std::move(*updated);
  EmitChanged(record, ChangedLimitProperties(change));
  auto or_none = [](uint64_t v) { return v == 0 ? std::string("none") : absl::StrCat(v); };
  LogMessage(kPriorityInfo,
             absl::StrCat("limits of ", record->config.name, " set", applied_live ? " (in force now)" : " (for the next start)",
                          ": ", Describe(record->config)),
             {{"CORRAL_CONTAINER", record->config.name},
              {"CORRAL_EVENT", "limits"},
              {EventDetailField("memory"), or_none(record->config.memory_bytes)},
              {EventDetailField("tasks"), or_none(record->config.tasks)},
              {EventDetailField("cpu_weight"), or_none(record->config.cpu_weight)},
              {EventDetailField("cpu_quota"), record->config.cpu_quota_percent == 0
                                                  ? std::string("none")
                                                  : absl::StrCat(record->config.cpu_quota_percent, "%")}});
  return absl::OkStatus();
}

int Service::SetLimits(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  LimitsChange change;
  std::string problem;
  if ((r = ReadLimits(m, &change, &problem)) < 0) return r;
  if (!problem.empty()) return Error(error, kErrorInvalidArgument, problem);
  // Checked whole before anything changes: a bad value leaves the scope and the config alone.
  absl::StatusOr<ContainerConfig> checked = ApplyLimits(record->config, change);
  if (!checked.ok()) return Error(error, kErrorInvalidArgument, checked.status().message());
  const std::string name = record->config.name;
  if (record->state == ContainerState::kStarting || record->state == ContainerState::kStopping) {
    return Error(error, kErrorFailed,
                 absl::StrCat("container ", name, " is ", ContainerStateName(record->state),
                              ": set its limits once it is running or stopped"));
  }
  if (record->state == ContainerState::kStopped) {
    absl::Status saved = self->SaveLimits(record, change, /*applied_live=*/false);
    if (!saved.ok()) return Error(error, kErrorFailed, saved.message());
    return sd_bus_reply_method_return(m, "");
  }
  // Running: systemd changes the scope's cgroup files (v2 and the v1 hierarchies alike), then
  // the config follows; if systemd refuses, nothing changed.
  sd_bus_message* call = sd_bus_message_ref(m);
  self->systemd_->SetUnitProperties(record->unit(), SystemdLimitProperties(change),
                                    [self, name, change, call](absl::Status applied) {
                                      ContainerRecord* rec = self->registry_.Find(name);
                                      if (!applied.ok()) {
                                        ReplyError(call, kErrorFailed, applied.message());
                                      } else if (rec == nullptr) {
                                        ReplyError(call, kErrorNoSuchContainer, absl::StrCat("no container named ", name));
                                      } else if (absl::Status saved = self->SaveLimits(rec, change, true); !saved.ok()) {
                                        ReplyError(call, kErrorFailed,
                                                   absl::StrCat("the limits are in force but were not saved for the "
                                                                "next start: ",
                                                                saved.message()));
                                      } else {
                                        sd_bus_reply_method_return(call, "");
                                      }
                                      sd_bus_message_unref(call);
                                    });
  return 1;
}

}  // namespace corral::dbus
