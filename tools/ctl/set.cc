#include "tools/ctl/set.h"

#include <stdio.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/spec.h"
#include "tools/ctl/bus.h"

namespace corral::tools {
namespace {

bool IsNone(const std::string& v) { return v == "none" || v == "max" || v == "infinity" || v == "0"; }

absl::Status Number(const std::string& option, const std::string& text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(text[0])) || !absl::SimpleAtoi(text, out) ||
      *out < min || *out > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, " \"", text, "\" is not a number from ", min, " to ", max, " (or none)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SetArgs> ParseSetArgs(const std::vector<std::string>& args) {
  SetArgs s;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], v;
    bool has_value = false;
    if (size_t eq = a.find('='); absl::StartsWith(a, "--") && eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    bool known = a == "--memory" || a == "--pids" || a == "--cpu-weight" || a == "--cpu-quota";
    if (!known) {
      if (s.name.empty() && !a.empty() && a[0] != '-' && !has_value) {
        s.name = a;
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat("unknown option \"", args[i], "\""));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(a, " needs a value"));
      v = args[++i];
    }
    uint64_t n = 0;
    if (a == "--memory") {
      if (!IsNone(v)) {
        absl::Status parsed = runtime::ParseByteSize(v, &n);
        if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("--memory: ", parsed.message()));
        if (n < (uint64_t{4} << 20)) return absl::InvalidArgumentError("--memory: at least 4M is needed (or none)");
      }
      s.memory_bytes = n;
    } else if (a == "--pids") {
      if (!IsNone(v)) RETURN_IF_ERROR(Number(a, v, 1, 4194304, &n));
      s.tasks = n;
    } else if (a == "--cpu-weight") {
      if (!IsNone(v)) RETURN_IF_ERROR(Number(a, v, 1, 10000, &n));
      s.cpu_weight = n;
    } else {
      std::string percent = absl::EndsWith(v, "%") ? v.substr(0, v.size() - 1) : v;
      if (!IsNone(percent)) RETURN_IF_ERROR(Number(a, percent, 1, 100000, &n));
      s.cpu_quota_percent = n;
    }
  }
  if (s.name.empty()) return absl::InvalidArgumentError("which container? corralctl set NAME --memory 64M ...");
  if (!s.memory_bytes && !s.tasks && !s.cpu_weight && !s.cpu_quota_percent) {
    return absl::InvalidArgumentError("nothing to set: give --memory, --pids, --cpu-weight or --cpu-quota");
  }
  return s;
}

int SetCommand(sd_bus* bus, const std::vector<std::string>& args) {
  absl::StatusOr<SetArgs> s = ParseSetArgs(args);
  if (!s.ok()) {
    ::fprintf(stderr, "corralctl: set: %s (see corralctl --help)\n", std::string(s.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "SetLimits");
  if (!call.ok()) {
    ::fprintf(stderr, "corralctl: %s\n", std::string(call.status().message()).c_str());
    return 1;
  }
  sd_bus_message* m = call->get();
  sd_bus_message_append(m, "s", s->name.c_str());
  sd_bus_message_open_container(m, 'a', "{sv}");
  if (s->memory_bytes) sd_bus_message_append(m, "{sv}", "Memory", "t", *s->memory_bytes);
  if (s->tasks) sd_bus_message_append(m, "{sv}", "Tasks", "t", *s->tasks);
  if (s->cpu_weight) sd_bus_message_append(m, "{sv}", "CPUWeight", "t", *s->cpu_weight);
  if (s->cpu_quota_percent) sd_bus_message_append(m, "{sv}", "CPUQuota", "t", *s->cpu_quota_percent);
  sd_bus_message_close_container(m);
  absl::StatusOr<MessagePtr> reply = CallAndWait(bus, m);
  if (!reply.ok()) {
    ::fprintf(stderr, "corralctl: %s\n", std::string(reply.status().message()).c_str());
    return 1;
  }
  return 0;
}

void WarnUnenforcedLimits(sd_bus* bus, const std::string& name) {
  absl::StatusOr<std::vector<Property>> properties = ContainerProperties(bus, name);
  if (!properties.ok()) return;  // the create succeeded; `info` will say
  for (const Property& p : *properties) {
    if (p.name != "UnenforcedLimits") continue;
    for (const std::string& limit : p.list) {
      ::fprintf(stderr,
                "corralctl: warning: container %s: this host's cgroups cannot enforce a limit (%s); it is kept in "
                "the config but is not in force (UnenforcedLimits in corralctl info %s)\n",
                name.c_str(), limit.c_str(), name.c_str());
    }
  }
}

}  // namespace corral::tools
