#include "dbus/event_log.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "dbus/journal_log.h"

namespace corral::dbus {
namespace {

// corrald is one thread: the last state logged per container.
std::map<std::string, ContainerState>& Logged() {
  static auto* logged = new std::map<std::string, ContainerState>;
  return *logged;
}

}  // namespace

std::string EventDetailField(absl::string_view key) { return absl::StrCat("CORRAL_DETAIL_", absl::AsciiStrToUpper(key)); }

void LogContainerEvent(const std::string& name, absl::string_view kind,
                       const std::vector<std::pair<std::string, std::string>>& details) {
  std::string message = absl::StrCat("container ", name, " ", kind);
  std::vector<std::pair<std::string, std::string>> fields = {{"CORRAL_CONTAINER", name},
                                                             {"CORRAL_EVENT", std::string(kind)}};
  for (const auto& [key, value] : details) {
    absl::StrAppend(&message, " ", key, "=", value);
    fields.emplace_back(EventDetailField(key), value);
  }
  LogMessage(kPriorityInfo, message, fields);
}

void BaselineContainerEvents(const ContainerRecord& record) { Logged()[record.config.name] = record.state; }

void LogStateIfChanged(const ContainerRecord& record) {
  auto [it, inserted] = Logged().emplace(record.config.name, record.state);
  // Never seen: found again by a restarted corrald (its state then is no event), or a record
  // made without CreateContainer.
  if (inserted || it->second == record.state) return;
  it->second = record.state;
  switch (record.state) {
    case ContainerState::kRunning:
      LogContainerEvent(record.config.name, "started");
      break;
    case ContainerState::kStopped:
      LogContainerEvent(record.config.name, "stopped",
                        {{"exit_status", absl::StrCat(record.exit_status)},
                         {"oom_killed", record.oom_kills > 0 ? "true" : "false"}});
      break;
    case ContainerState::kStarting:
    case ContainerState::kStopping:
      LogContainerEvent(record.config.name, ContainerStateName(record.state));
      break;
    case ContainerState::kBroken:
      break;
  }
}

void LogCreated(const std::string& name) {
  Logged()[name] = ContainerState::kStopped;
  LogContainerEvent(name, "created");
}

void LogRemoved(const std::string& name) {
  Logged().erase(name);
  LogContainerEvent(name, "removed");
}

}  // namespace corral::dbus
