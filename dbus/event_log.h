// corrald's record of what happens to containers, in the journal: one entry per event
// (SYSLOG_IDENTIFIER=corrald, CORRAL_CONTAINER=NAME, CORRAL_EVENT=created|starting|started|
// stopping|stopped|removed, details as CORRAL_DETAIL_<KEY>=VALUE), so `corralctl events --since T`
// can replay what came before it subscribed to the live signals. oom, restart and limits
// entries are corrald's existing log messages with the same fields.
#ifndef CORRAL_DBUS_EVENT_LOG_H_
#define CORRAL_DBUS_EVENT_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "dbus/registry.h"

namespace corral::dbus {

// The journal field of a detail: "exit_status" -> "CORRAL_DETAIL_EXIT_STATUS".
std::string EventDetailField(absl::string_view key);

// Logs one event for `name`.
void LogContainerEvent(const std::string& name, absl::string_view kind,
                       const std::vector<std::pair<std::string, std::string>>& details = {});

// What a container's state was when corrald found it (a start of corrald is no event).
void BaselineContainerEvents(const ContainerRecord& record);
// After a change was signalled: an event when record.state differs from the last one logged.
void LogStateIfChanged(const ContainerRecord& record);
// created / removed (the latter forgets the container).
void LogCreated(const std::string& name);
void LogRemoved(const std::string& name);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_EVENT_LOG_H_
