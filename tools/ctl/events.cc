#include "tools/ctl/events.h"

#include <signal.h>
#include <stdio.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dbus/interface.h"
#include "tools/ctl/bus.h"
#include "tools/ctl/logs.h"

namespace corral::tools {

void EventTracker::Baseline(const std::string& name, const std::string& state, uint64_t oom_kills,
                            uint32_t restart_count) {
  known_[name] = {state, oom_kills, restart_count};
}

std::vector<Event> EventTracker::Created(const std::string& name) {
  known_[name] = {"stopped", 0, 0};
  return {{name, "created", {}}};
}

std::vector<Event> EventTracker::Removed(const std::string& name) {
  known_.erase(name);
  return {{name, "removed", {}}};
}

std::vector<Event> EventTracker::Changed(const std::string& name, const ChangedValues& v) {
  std::vector<Event> out;
  Known& k = known_[name];
  if (v.oom_kills) {
    if (*v.oom_kills > k.oom_kills) out.push_back({name, "oom", {{"kills", absl::StrCat(*v.oom_kills)}}});
    k.oom_kills = *v.oom_kills;  // a new run starts again from 0
  }
  std::vector<Event::Detail> limits;
  auto limit = [&limits](const char* key, const std::optional<uint64_t>& value, const char* suffix = "") {
    if (value) limits.push_back({key, *value == 0 ? std::string("none") : absl::StrCat(*value, suffix), *value == 0 || *suffix});
  };
  limit("memory", v.memory);
  limit("tasks", v.tasks);
  limit("cpu_weight", v.cpu_weight);
  limit("cpu_quota", v.cpu_quota, "%");
  for (Event::Detail& d : limits) {
    if (d.value == "none" || absl::EndsWith(d.value, "%")) d.quoted = true;
  }
  if (!limits.empty()) out.push_back({name, "limits", limits});
  if (v.state && *v.state != k.state) {
    k.state = *v.state;
    if (*v.state == "running") {
      out.push_back({name, "started", {}});
    } else if (*v.state == "stopped") {
      Event e{name, "stopped", {}};
      if (v.exit_status) e.details.push_back({"exit_status", absl::StrCat(*v.exit_status)});
      if (v.oom_killed) e.details.push_back({"oom_killed", *v.oom_killed ? "true" : "false"});
      out.push_back(std::move(e));
    } else {
      out.push_back({name, *v.state, {}});
    }
  }
  if (v.restart_count) {
    if (*v.restart_count > k.restart_count) {
      out.push_back({name, "restart", {{"count", absl::StrCat(*v.restart_count)}}});
    }
    k.restart_count = *v.restart_count;
  }
  return out;
}

std::optional<Event> EventFromJournalFields(const std::map<std::string, std::string>& fields) {
  static const std::set<std::string>* kinds = new std::set<std::string>{
      "created", "starting", "started", "stopping", "stopped", "removed", "oom", "restart", "limits"};
  auto container = fields.find("CORRAL_CONTAINER");
  auto kind = fields.find("CORRAL_EVENT");
  if (container == fields.end() || kind == fields.end() || !kinds->count(kind->second)) return std::nullopt;
  Event event{container->second, kind->second, {}};
  static const std::vector<std::string>* kOrder =
      new std::vector<std::string>{"exit_status", "oom_killed", "kills", "count", "memory", "tasks", "cpu_weight", "cpu_quota"};
  std::vector<std::pair<std::string, std::string>> details;
  constexpr absl::string_view kPrefix = "CORRAL_DETAIL_";
  for (const auto& [field, value] : fields) {
    if (!absl::StartsWith(field, kPrefix)) continue;
    details.emplace_back(absl::AsciiStrToLower(absl::string_view(field).substr(kPrefix.size())), value);
  }
  auto rank = [](const std::string& key) {
    for (size_t i = 0; i < kOrder->size(); ++i) {
      if ((*kOrder)[i] == key) return i;
    }
    return kOrder->size();
  };
  std::stable_sort(details.begin(), details.end(), [&](const auto& a, const auto& b) {
    size_t ra = rank(a.first), rb = rank(b.first);
    return ra != rb ? ra < rb : a.first < b.first;
  });
  for (auto& [key, value] : details) {
    int64_t number = 0;
    bool quoted = !(value == "true" || value == "false" || absl::SimpleAtoi(value, &number));
    event.details.push_back({key, value, quoted});
  }
  return event;
}

std::string FormatEvent(const Event& event, uint64_t realtime_usec, bool json) {
  time_t seconds = static_cast<time_t>(realtime_usec / 1000000);
  struct tm local;
  ::localtime_r(&seconds, &local);
  char when[64], zone[8];
  ::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &local);
  ::strftime(zone, sizeof(zone), "%z", &local);
  std::string z(zone);
  if (z.size() == 5) z.insert(3, ":");
  std::string time = absl::StrFormat("%s.%06u%s", when, static_cast<unsigned>(realtime_usec % 1000000), z);
  if (json) {
    std::string out = absl::StrCat("{\"time\": ", JsonString(time), ", \"time_usec\": ", realtime_usec,
                                   ", \"container\": ", JsonString(event.container), ", \"event\": ", JsonString(event.kind));
    for (const Event::Detail& d : event.details) {
      absl::StrAppend(&out, ", ", JsonString(d.key), ": ", d.quoted ? JsonString(d.value) : d.value);
    }
    return out + "}";
  }
  std::string out = absl::StrCat(time, " ", event.container, " ", event.kind);
  for (const Event::Detail& d : event.details) absl::StrAppend(&out, " ", d.key, "=", d.value);
  return out;
}

namespace {

volatile sig_atomic_t interrupted = 0;

uint64_t RealtimeNow() {
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  return uint64_t(now.tv_sec) * 1000000 + uint64_t(now.tv_nsec) / 1000;
}

struct Context {
  EventTracker tracker;
  bool json = false;
  bool failed_output = false;
  // Replayed from the journal though they came after the subscription: their live signal is
  // not printed again (container, kind).
  std::multiset<std::pair<std::string, std::string>> replayed;
};

void Print(Context* c, const std::vector<Event>& events) {
  for (const Event& e : events) {
    if (auto seen = c->replayed.find({e.container, e.kind}); seen != c->replayed.end()) {
      c->replayed.erase(seen);
      continue;
    }
    std::string line = FormatEvent(e, RealtimeNow(), c->json) + "\n";
    ::fwrite(line.data(), 1, line.size(), stdout);
  }
  if (!events.empty() && ::fflush(stdout) != 0) c->failed_output = true;
}

// Reads an a{sv} of changed properties into `v`.
int ReadChanged(sd_bus_message* m, ChangedValues* v) {
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char* key = nullptr;
    if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
    const char* contents = nullptr;
    char type = 0;
    if ((r = sd_bus_message_peek_type(m, &type, &contents)) < 0) return r;
    std::string k = key, sig = contents ? contents : "";
    if (k == "State" && sig == "s") {
      const char* s = nullptr;
      if ((r = sd_bus_message_read(m, "v", "s", &s)) < 0) return r;
      v->state = s;
    } else if (k == "ExitStatus" && sig == "i") {
      int32_t i = 0;
      if ((r = sd_bus_message_read(m, "v", "i", &i)) < 0) return r;
      v->exit_status = i;
    } else if (k == "OOMKilled" && sig == "b") {
      int b = 0;
      if ((r = sd_bus_message_read(m, "v", "b", &b)) < 0) return r;
      v->oom_killed = b != 0;
    } else if (k == "RestartCount" && sig == "u") {
      uint32_t u = 0;
      if ((r = sd_bus_message_read(m, "v", "u", &u)) < 0) return r;
      v->restart_count = u;
    } else if (sig == "t" && (k == "OOMKills" || k == "Memory" || k == "Tasks" || k == "CPUWeight" || k == "CPUQuota")) {
      uint64_t t = 0;
      if ((r = sd_bus_message_read(m, "v", "t", &t)) < 0) return r;
      (k == "OOMKills"    ? v->oom_kills
       : k == "Memory"    ? v->memory
       : k == "Tasks"     ? v->tasks
       : k == "CPUWeight" ? v->cpu_weight
                          : v->cpu_quota) = t;
    } else if ((r = sd_bus_message_skip(m, "v")) < 0) {
      return r;
    }
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

int OnManagerSignal(sd_bus_message* m, void* data, sd_bus_error*) {
  auto* c = static_cast<Context*>(data);
  const char* name = nullptr;
  const char* path = nullptr;
  if (sd_bus_message_read(m, "so", &name, &path) < 0) return 0;
  Print(c, sd_bus_message_is_signal(m, nullptr, "ContainerNew") ? c->tracker.Created(name) : c->tracker.Removed(name));
  return 0;
}

int OnPropertiesChanged(sd_bus_message* m, void* data, sd_bus_error*) {
  auto* c = static_cast<Context*>(data);
  const char* interface = nullptr;
  if (sd_bus_message_read(m, "s", &interface) < 0 || std::strcmp(interface, dbus::kContainerInterface) != 0) return 0;
  char* name = nullptr;
  if (sd_bus_path_decode(sd_bus_message_get_path(m), dbus::kContainerPathPrefix, &name) <= 0) return 0;
  std::string container = name;
  free(name);
  ChangedValues values;
  if (ReadChanged(m, &values) < 0) return 0;
  Print(c, c->tracker.Changed(container, values));
  return 0;
}

int Fail(absl::string_view message, int code = 1) {
  ::fprintf(stderr, "corralctl: %s\n", std::string(message).c_str());
  return code;
}

// corrald's events in the journal from `since_usec` to now, printed; those at or after
// `subscribed_usec` remembered in c->replayed.
absl::Status Replay(Context* c, uint64_t since_usec, uint64_t subscribed_usec) {
  sd_journal* j = nullptr;
  int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
  if (r < 0) return absl::UnavailableError(absl::StrCat("open the journal: ", std::strerror(-r)));
  std::unique_ptr<sd_journal, void (*)(sd_journal*)> journal(j, sd_journal_close);
  // One field matched to several values is an OR; different fields AND.
  std::vector<std::string> matches = {"SYSLOG_IDENTIFIER=corrald"};
  for (const char* kind : {"created", "starting", "started", "stopping", "stopped", "removed", "oom", "restart", "limits"}) {
    matches.push_back(absl::StrCat("CORRAL_EVENT=", kind));
  }
  for (const std::string& m : matches) {
    if ((r = sd_journal_add_match(j, m.data(), m.size())) < 0) {
      return absl::InternalError(absl::StrCat("journal match ", m, ": ", std::strerror(-r)));
    }
  }
  if ((r = sd_journal_seek_realtime_usec(j, since_usec)) < 0) {
    return absl::InternalError(absl::StrCat("seek the journal: ", std::strerror(-r)));
  }
  while ((r = sd_journal_next(j)) > 0) {
    uint64_t when = 0;
    if (sd_journal_get_realtime_usec(j, &when) < 0 || when < since_usec) continue;
    std::map<std::string, std::string> fields;
    const void* data = nullptr;
    size_t length = 0;
    sd_journal_restart_data(j);
    while (sd_journal_enumerate_data(j, &data, &length) > 0) {
      absl::string_view field(static_cast<const char*>(data), length);
      size_t eq = field.find('=');
      if (eq == absl::string_view::npos || !absl::StartsWith(field, "CORRAL_")) continue;
      fields[std::string(field.substr(0, eq))] = std::string(field.substr(eq + 1));
    }
    std::optional<Event> event = EventFromJournalFields(fields);
    if (!event) continue;
    std::string line = FormatEvent(*event, when, c->json) + "\n";
    ::fwrite(line.data(), 1, line.size(), stdout);
    if (when >= subscribed_usec) c->replayed.insert({event->container, event->kind});
  }
  if (r < 0) return absl::InternalError(absl::StrCat("read the journal: ", std::strerror(-r)));
  if (::fflush(stdout) != 0) c->failed_output = true;
  return absl::OkStatus();
}

// corrald's signals (ContainerNew, ContainerRemoved, every container's PropertiesChanged) to
// `context`; sd-bus's result, negative on failure.
int Subscribe(sd_bus* raw, Context* context) {
  int r = sd_bus_match_signal(raw, nullptr, dbus::kBusName, dbus::kManagerPath, dbus::kManagerInterface,
                              "ContainerNew", OnManagerSignal, context);
  if (r >= 0) {
    r = sd_bus_match_signal(raw, nullptr, dbus::kBusName, dbus::kManagerPath, dbus::kManagerInterface,
                            "ContainerRemoved", OnManagerSignal, context);
  }
  if (r >= 0) {
    r = sd_bus_add_match(raw, nullptr,
                         "type='signal',sender='org.corral1',interface='org.freedesktop.DBus.Properties',"
                         "member='PropertiesChanged',path_namespace='/org/corral1/container'",
                         OnPropertiesChanged, context);
  }
  return r;
}

// Every container's state, OOM kills and restarts now: what later signals are compared with.
absl::Status TakeBaseline(sd_bus* raw, Context* context) {
  absl::StatusOr<MessagePtr> call = NewManagerCall(raw, "ListContainers");
  if (!call.ok()) return call.status();
  absl::StatusOr<MessagePtr> reply = CallAndWait(raw, call->get());
  if (!reply.ok()) return reply.status();
  sd_bus_message* m = reply->get();
  sd_bus_message_enter_container(m, 'a', "(ssuo)");
  const char *name, *state, *path;
  uint32_t pid;
  std::vector<std::pair<std::string, std::string>> containers;
  while (sd_bus_message_read(m, "(ssuo)", &name, &state, &pid, &path) > 0) containers.emplace_back(name, state);
  for (const auto& [n, s] : containers) {
    uint64_t kills = 0;
    uint32_t restarts = 0;
    absl::StatusOr<std::vector<Property>> properties = ContainerProperties(raw, n);
    if (properties.ok()) {
      for (const Property& p : *properties) {
        if (p.name == "OOMKills") absl::SimpleAtoi(p.text, &kills);
        if (p.name == "RestartCount") absl::SimpleAtoi(p.text, &restarts);
      }
    }
    context->tracker.Baseline(n, s, kills, restarts);
  }
  return absl::OkStatus();
}

}  // namespace

int EventsCommand(const std::vector<std::string>& args) {
  Context context;
  std::optional<uint64_t> since;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::optional<std::string> value;
    if (a == "--since") {
      if (i + 1 >= args.size()) return Fail("events: --since needs a time (e.g. \"10m ago\", \"12:00\", \"@1714564000\")", 2);
      value = args[++i];
    } else if (absl::StartsWith(a, "--since=")) {
      value = a.substr(8);
    }
    if (value) {
      absl::StatusOr<uint64_t> parsed = ParseSince(*value, RealtimeNow());
      if (!parsed.ok()) return Fail(absl::StrCat("events: ", parsed.status().message()), 2);
      since = *parsed;
    } else if (a == "--json") {
      context.json = true;
    } else {
      return Fail(absl::StrCat("events: unknown option \"", a, "\" (usage: corralctl events [--json] [--since T])"), 2);
    }
  }
  const uint64_t subscribed_usec = RealtimeNow();
  // The system bus, not corrald's private socket: the signals are sent there.
  sd_bus* raw = nullptr;
  int r = sd_bus_open_system(&raw);
  if (r < 0) return Fail(absl::StrCat("connect to the system bus: ", std::strerror(-r)));
  BusPtr bus(raw);
  r = Subscribe(raw, &context);
  if (r < 0) return Fail(absl::StrCat("subscribe to corrald's signals: ", std::strerror(-r)));
  // Subscribed first, then the baseline: nothing between the two is missed.
  if (absl::Status baseline = TakeBaseline(raw, &context); !baseline.ok()) return Fail(baseline.message());
  // What came before, from corrald's journal; the signals queued meanwhile wait in the bus.
  if (since) {
    absl::Status replayed = Replay(&context, *since, subscribed_usec);
    if (!replayed.ok()) return Fail(absl::StrCat("events --since: ", replayed.message()));
  }
  // Until Ctrl-C or SIGTERM (exit 0), or until stdout or the bus goes away.
  struct sigaction action {};
  action.sa_handler = [](int) { interrupted = 1; };
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  while (!interrupted && !context.failed_output) {
    r = sd_bus_process(raw, nullptr);
    if (r < 0) return Fail(absl::StrCat("the system bus: ", std::strerror(-r)));
    if (r > 0) continue;
    r = sd_bus_wait(raw, UINT64_MAX);
    if (r < 0 && r != -EINTR) return Fail(absl::StrCat("the system bus: ", std::strerror(-r)));
  }
  return 0;
}

}  // namespace corral::tools
