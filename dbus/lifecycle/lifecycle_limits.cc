// SetLimits without the bus (dbus/limits.h has the parsing and the mapping to systemd's
// properties): live on a running scope, saved for the next start.
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "dbus/error_kind.h"
#include "dbus/event_log.h"
#include "dbus/journal_log.h"
#include "dbus/lifecycle/lifecycle.h"
#include "dbus/limits.h"

namespace corral::dbus {
namespace {

std::string Describe(const ContainerConfig& c) {
  auto or_none = [](uint64_t v) { return v == 0 ? std::string("none") : absl::StrCat(v); };
  return absl::StrCat("memory=", or_none(c.memory_bytes), " tasks=", or_none(c.tasks),
                      " cpu_weight=", or_none(c.cpu_weight), " cpu_quota=",
                      c.cpu_quota_percent == 0 ? std::string("none") : absl::StrCat(c.cpu_quota_percent, "%"));
}

}  // namespace

// The config with `change` saved for the next start, the properties signalled, the journal told.
absl::Status Lifecycle::SaveLimits(ContainerRecord* record, const LimitsChange& change, bool applied_live) {
  absl::StatusOr<ContainerConfig> updated = ApplyLimits(record->config, change);
  if (!updated.ok()) return updated.status();
  absl::Status written = WriteFileAtomically(record->paths.config(), FormatConfig(*updated), 0600);
  if (!written.ok()) return written;
  record->config = std::move(*updated);
  Changed(*record, ChangedLimitProperties(change));
  NoteUnenforcedLimits(record, nullptr);  // a limit removed (0) may have been one not in force
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

const LimitControllers& Lifecycle::HostControllers() {
  if (!controllers_) controllers_ = options_.limit_controllers ? options_.limit_controllers() : ReadLimitControllers();
  return *controllers_;
}

void Lifecycle::NoteUnenforcedLimits(ContainerRecord* record, const char* when) {
  std::vector<std::string> unenforced = UnenforcedLimits(record->config, HostControllers());
  if (unenforced != record->unenforced_limits) {
    record->unenforced_limits = unenforced;
    Changed(*record, {"UnenforcedLimits"});
  }
  if (unenforced.empty() || when == nullptr) return;
  const std::string& name = record->config.name;
  LogMessage(kPriorityWarning,
             absl::StrCat("container ", name, " ", when, " with limits this host cannot enforce (",
                          absl::StrJoin(unenforced, ", "), "; ", HostControllers().where, "): they are not in force"),
             {{"CORRAL_CONTAINER", name}});
}

absl::Status Lifecycle::SetLimits(ContainerRecord* record, const LimitsChange& change, Done done) {
  // Checked whole before anything changes: a bad value leaves the scope and the config alone.
  absl::StatusOr<ContainerConfig> checked = ApplyLimits(record->config, change);
  if (!checked.ok()) return InvalidArgumentKindError(checked.status().message());
  // systemd would take a limit whose controller the scope's cgroup lacks and enforce nothing:
  // refused by name instead, for a stopped container too (its next start could not either).
  if (absl::Status enforceable = CheckLimitsEnforceable(change, HostControllers()); !enforceable.ok()) {
    return FailedError(absl::StrCat("set limits of ", record->config.name, ": ", enforceable.message()));
  }
  const std::string name = record->config.name;
  if (record->state == ContainerState::kStarting || record->state == ContainerState::kStopping) {
    return FailedError(absl::StrCat("container ", name, " is ", ContainerStateName(record->state),
                                    ": set its limits once it is running or stopped"));
  }
  if (record->state == ContainerState::kStopped) {
    absl::Status saved = SaveLimits(record, change, /*applied_live=*/false);
    if (!saved.ok()) return FailedError(saved.message());
    done(absl::OkStatus());
    return absl::OkStatus();
  }
  // Running: systemd changes the scope's cgroup files (v2 and the v1 hierarchies alike), then
  // the config follows; if systemd refuses, nothing changed.
  scopes_->SetUnitProperties(record->unit(), SystemdLimitProperties(change),
                             [this, name, change, done = std::move(done)](absl::Status applied) {
                               ContainerRecord* rec = registry_->Find(name);
                               if (!applied.ok()) {
                                 done(FailedError(applied.message()));
                               } else if (rec == nullptr) {
                                 done(NoSuchContainerError(name));
                               } else if (absl::Status saved = SaveLimits(rec, change, true); !saved.ok()) {
                                 done(FailedError(absl::StrCat(
                                     "the limits are in force but were not saved for the next start: ",
                                     saved.message())));
                               } else {
                                 done(absl::OkStatus());
                               }
                             });
  return absl::OkStatus();
}

}  // namespace corral::dbus
