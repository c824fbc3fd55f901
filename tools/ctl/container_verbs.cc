// corralctl's container verbs that are one D-Bus call each: create, start, rm, stop, kill, ls,
// info, checkconfig, and console (which then relays the pty it gets).
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/unique_fd.h"
#include "runtime/console.h"
#include "tools/ctl/bus.h"
#include "tools/ctl/set.h"
#include "tools/ctl/signal.h"
#include "tools/ctl/storage.h"
#include "tools/ctl/verbs.h"
#include "tools/run_options.h"

namespace corral::tools::ctl {

int SimpleCall(sd_bus* bus, const char* method, const std::string& name) {
  auto call = NewManagerCall(bus, method);
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "s", name.c_str());
  auto reply = CallAndWait(bus, call->get());
  return reply.ok() ? 0 : Fail(reply.status().message());
}

int Create(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty() || args[0][0] == '-') return Usage("create: which container? corralctl create NAME --image IMAGE");
  absl::StatusOr<RunOptions> parsed =
      ParseRunOptions(std::vector<std::string>(args.begin() + 1, args.end()), OptionsFor::kCreate);
  if (!parsed.ok()) return Usage(absl::StrCat("create: ", parsed.status().message()));
  const RunOptions& o = *parsed;
  // corrald does not share our working directory: a directory given as a path is sent whole.
  std::string image = o.image;
  if (image.find('/') != std::string::npos && image[0] != '/') {
    char* absolute = ::realpath(image.c_str(), nullptr);
    if (absolute == nullptr) return Fail(absl::StrCat("--image ", image, ": ", std::strerror(errno)));
    image = absolute;
    free(absolute);
  }
  auto call = NewManagerCall(bus, "CreateContainer");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message* m = call->get();
  sd_bus_message_append(m, "ss", args[0].c_str(), image.c_str());
  sd_bus_message_open_container(m, 'a', "{sv}");
  auto uint_option = [m](const char* key, uint64_t value) { sd_bus_message_append(m, "{sv}", key, "t", value); };
  if (o.memory_bytes) uint_option("Memory", *o.memory_bytes);
  if (o.pids) uint_option("Tasks", *o.pids);
  if (o.cpu_weight) uint_option("CPUWeight", *o.cpu_weight);
  if (o.cpu_quota_percent) uint_option("CPUQuota", *o.cpu_quota_percent);
  if (!o.restart.empty()) sd_bus_message_append(m, "{sv}", "Restart", "s", o.restart.c_str());
  const char* net = o.net == NetMode::kNone ? "none" : o.net == NetMode::kHost ? "host" : "bridge";
  sd_bus_message_append(m, "{sv}", "Network", "s", net);
  if (!o.spec.hostname.empty()) sd_bus_message_append(m, "{sv}", "Hostname", "s", o.spec.hostname.c_str());
  if (!o.ports.empty()) {
    sd_bus_message_open_container(m, 'e', "sv");
    sd_bus_message_append(m, "s", "Ports");
    sd_bus_message_open_container(m, 'v', "a(sqq)");
    sd_bus_message_open_container(m, 'a', "(sqq)");
    for (const netcfg::PortForward& p : o.ports) {
      sd_bus_message_append(m, "(sqq)", p.protocol == netcfg::Protocol::kUdp ? "udp" : "tcp", p.host_port,
                            p.container_port);
    }
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
  }
  AppendStrvOption(m, "Command", o.spec.command);
  AppendStrvOption(m, "Environment", o.spec.env);
  if (!o.spec.devices.empty()) {
    std::vector<std::string> devices;
    for (const runtime::DeviceSpec& d : o.spec.devices) devices.push_back(runtime::FormatDeviceSpec(d));
    AppendStrvOption(m, "Devices", devices);
  }
  AppendStorageOptions(m, o);  // Binds, IdmappedBinds, Tmpfs, Volumes: tools/ctl/storage.h
  sd_bus_message_append(m, "{sv}", "Boot", "b", static_cast<int>(o.spec.init == runtime::InitMode::kBoot));
  if (o.privileged) sd_bus_message_append(m, "{sv}", "Privileged", "b", 1);
  sd_bus_message_close_container(m);
  auto reply = CallAndWait(bus, m);
  if (!reply.ok()) return Fail(reply.status().message());
  ::printf("created container %s\n", args[0].c_str());
  if (o.memory_bytes || o.pids || o.cpu_weight || o.cpu_quota_percent) WarnUnenforcedLimits(bus, args[0]);
  return 0;
}

int Stop(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty()) return Usage("stop: which container?");
  uint32_t timeout = 10;
  if (args.size() == 3 && args[1] == "--timeout") {
    if (!absl::SimpleAtoi(args[2], &timeout)) return Usage(absl::StrCat("stop: --timeout \"", args[2], "\" is not a number of seconds"));
  } else if (args.size() != 1) {
    return Usage("usage: corralctl stop NAME [--timeout S]");
  }
  auto call = NewManagerCall(bus, "StopContainerWithTimeout");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "su", args[0].c_str(), timeout);
  // Its own wait, then the kill and the scope's end.
  auto reply = CallAndWait(bus, call->get(), (uint64_t{timeout} + 60) * 1000000);
  return reply.ok() ? 0 : Fail(reply.status().message());
}

int Kill(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2) return Usage("usage: corralctl kill NAME [SIGNAL]");
  int signal = SIGTERM;
  if (args.size() == 2 && !ParseSignal(args[1], &signal)) return Usage(absl::StrCat("kill: no signal \"", args[1], "\""));
  auto call = NewManagerCall(bus, "KillContainer");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "si", args[0].c_str(), signal);
  auto reply = CallAndWait(bus, call->get());
  return reply.ok() ? 0 : Fail(reply.status().message());
}

int List(sd_bus* bus, const std::vector<std::string>& args) {
  bool json = args.size() == 1 && args[0] == "--json";
  if (!args.empty() && !json) return Usage("usage: corralctl ls [--json]");
  auto call = NewManagerCall(bus, "ListContainers");
  if (!call.ok()) return Fail(call.status().message());
  auto reply = CallAndWait(bus, call->get());
  if (!reply.ok()) return Fail(reply.status().message());
  struct Row {
    std::string name, state, address, unit;
    uint32_t pid;
  };
  std::vector<Row> rows;
  sd_bus_message* m = reply->get();
  sd_bus_message_enter_container(m, 'a', "(ssuo)");
  const char *name, *state, *path;
  uint32_t pid;
  while (sd_bus_message_read(m, "(ssuo)", &name, &state, &pid, &path) > 0) rows.push_back({name, state, "", "", pid});
  for (Row& row : rows) {
    absl::StatusOr<std::vector<Property>> properties = ContainerProperties(bus, row.name);
    if (!properties.ok()) continue;
    for (const Property& p : *properties) {
      if (p.name == "Addresses") row.address = p.text;
      if (p.name == "Unit") row.unit = p.text;
    }
  }
  if (json) {
    std::vector<std::string> objects;
    for (const Row& r : rows) {
      objects.push_back(absl::StrCat("{\"name\": ", JsonString(r.name), ", \"state\": ", JsonString(r.state),
                                     ", \"pid\": ", r.pid, ", \"address\": ", JsonString(r.address),
                                     ", \"unit\": ", JsonString(r.unit), "}"));
    }
    ::printf("[%s]\n", absl::StrJoin(objects, ",\n ").c_str());
    return 0;
  }
  ::printf("%-20s %-9s %-8s %-18s %s\n", "NAME", "STATE", "PID", "ADDRESS", "UNIT");
  for (const Row& r : rows) {
    ::printf("%-20s %-9s %-8s %-18s %s\n", r.name.c_str(), r.state.c_str(), r.pid ? absl::StrCat(r.pid).c_str() : "-",
             r.address.empty() ? "-" : r.address.c_str(), r.unit.c_str());
  }
  return 0;
}

int Info(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2 || (args.size() == 2 && args[1] != "--json")) {
    return Usage("usage: corralctl info NAME [--json]");
  }
  absl::StatusOr<std::vector<Property>> properties = ContainerProperties(bus, args[0]);
  if (!properties.ok()) return Fail(properties.status().message());
  if (args.size() == 2) {
    std::vector<std::string> fields;
    for (const Property& p : *properties) {
      std::string value;
      if (p.is_list) {
        std::vector<std::string> items;
        for (const std::string& item : p.list) items.push_back(JsonString(item));
        value = absl::StrCat("[", absl::StrJoin(items, ", "), "]");
      } else {
        value = p.is_number || p.text == "true" || p.text == "false" ? p.text : JsonString(p.text);
      }
      fields.push_back(absl::StrCat(JsonString(p.name), ": ", value));
    }
    ::printf("{%s}\n", absl::StrJoin(fields, ",\n ").c_str());
    return 0;
  }
  for (const Property& p : *properties) ::printf("%-11s %s\n", (p.name + ":").c_str(), p.text.c_str());
  return 0;
}

int CheckConfig(sd_bus* bus) {
  auto call = NewManagerCall(bus, "CheckConfig");
  if (!call.ok()) return Fail(call.status().message());
  auto reply = CallAndWait(bus, call->get());
  if (!reply.ok()) return Fail(reply.status().message());
  char** warnings = nullptr;
  sd_bus_message_read_strv(reply->get(), &warnings);
  int count = 0;
  for (char** w = warnings; w && *w; ++w, ++count) {
    ::printf("warning: %s\n", *w);
    free(*w);
  }
  free(warnings);
  if (count == 0) ::printf("no problems found\n");
  return count == 0 ? 0 : kExitFailed;
}

int Console(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("usage: corralctl console NAME");
  auto call = NewManagerCall(bus, "OpenConsole");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "s", args[0].c_str());
  auto reply = CallAndWait(bus, call->get());
  if (!reply.ok()) return Fail(reply.status().message());
  int master = -1;
  const char* pty = nullptr;
  if (sd_bus_message_read(reply->get(), "hs", &master, &pty) < 0) return Fail("bad OpenConsole reply");
  UniqueFd console(::fcntl(master, F_DUPFD_CLOEXEC, 3));
  ::fprintf(stderr, "Connected to the console of %s. Type Ctrl-a q to detach.\n", args[0].c_str());
  runtime::CopyWindowSize(0, console.get());
  runtime::RawTerminal raw(0);
  runtime::RelayOptions relay;
  relay.detach_keys = true;
  absl::StatusOr<runtime::RelayEnd> end = runtime::RelayConsole(console.get(), 0, 1, relay);
  if (!end.ok()) return Fail(end.status().message());
  ::fprintf(stderr, "\r\n%s\r\n", *end == runtime::RelayEnd::kDetached ? "Detached." : "The console closed.");
  return 0;
}

}  // namespace corral::tools::ctl
