// `corralctl events [--json] [--since T]`: what happens to containers, one line each, until interrupted,
// from corrald's signals on the system bus: ContainerNew (created), ContainerRemoved (removed),
// and each container's PropertiesChanged: State (starting, started, stopping, stopped with its
// ExitStatus and OOMKilled), OOMKills growing (oom), RestartCount growing (restart), Memory,
// Tasks, CPUWeight or CPUQuota (limits). The tracking and formatting are pure and tested apart.
#ifndef CORRAL_TOOLS_CTL_EVENTS_H_
#define CORRAL_TOOLS_CTL_EVENTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corral::tools {

// The values a PropertiesChanged signal carried (those it did not: nullopt).
struct ChangedValues {
  std::optional<std::string> state;
  std::optional<int32_t> exit_status;
  std::optional<bool> oom_killed;
  std::optional<uint64_t> oom_kills;
  std::optional<uint32_t> restart_count;
  std::optional<uint64_t> memory, tasks, cpu_weight, cpu_quota;
};

struct Event {
  std::string container;
  std::string kind;  // created, removed, starting, started, stopping, stopped, oom, restart, limits
  struct Detail {
    std::string key;
    std::string value;
    bool quoted = false;  // a JSON string rather than a number or boolean
  };
  std::vector<Detail> details;
};

// Turns signals into events, each once: what a container's state was, its OOM kills and restarts.
class EventTracker {
 public:
  // What was there before the first signal (so a signal repeating a value is no event).
  void Baseline(const std::string& name, const std::string& state, uint64_t oom_kills, uint32_t restart_count);
  std::vector<Event> Created(const std::string& name);
  std::vector<Event> Removed(const std::string& name);
  std::vector<Event> Changed(const std::string& name, const ChangedValues& values);

 private:
  struct Known {
    std::string state;
    uint64_t oom_kills = 0;
    uint32_t restart_count = 0;
  };
  std::map<std::string, Known> known_;
};

// "2024-05-01T12:00:05.123456+00:00 web stopped exit_status=3 oom_killed=false", or one JSON
// object: {"time": ..., "time_usec": ..., "container": ..., "event": ..., details...}.
std::string FormatEvent(const Event& event, uint64_t realtime_usec, bool json);

// An event corrald wrote to the journal (dbus/event_log.h), from the entry's fields
// (CORRAL_CONTAINER, CORRAL_EVENT, CORRAL_DETAIL_<KEY>); nullopt when it is not an event. The
// details come in the order the live events have them (exit_status before oom_killed, memory,
// tasks, cpu_weight, cpu_quota), others after by name; numbers and booleans unquoted in JSON.
std::optional<Event> EventFromJournalFields(const std::map<std::string, std::string>& fields);

// The verb (its own system-bus connection: signals come from there); returns the exit status.
// --since T first replays corrald's journaled events from T (tools/ctl/logs.h ParseSince; a T
// that is not a time is an error, nothing printed), then goes on live.
int EventsCommand(const std::vector<std::string>& args);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_EVENTS_H_
