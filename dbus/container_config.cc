#include "dbus/container_config.h"

#include <algorithm>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "runtime/devices.h"
#include "runtime/spec.h"
#include "runtime/storage_spec.h"

namespace corral::dbus {

absl::string_view NetworkModeName(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kBridge:
      return "bridge";
    case NetworkMode::kNone:
      return "none";
    case NetworkMode::kHost:
      return "host";
  }
  return "bridge";
}

absl::StatusOr<NetworkMode> ParseNetworkMode(absl::string_view text) {
  if (text == "bridge") return NetworkMode::kBridge;
  if (text == "none") return NetworkMode::kNone;
  if (text == "host") return NetworkMode::kHost;
  return absl::InvalidArgumentError(absl::StrCat("network \"", text, "\" is not none, host or bridge"));
}

absl::Status ValidateDeviceList(const std::vector<std::string>& devices) {
  std::vector<runtime::DeviceSpec> specs;
  for (const std::string& text : devices) {
    // The text alone: the host is asked when the container starts.
    ASSIGN_OR_RETURN(runtime::DeviceSpec spec, runtime::ParseDeviceSpecText(text));
    if (runtime::FormatDeviceSpec(spec) != text) {
      return absl::InvalidArgumentError(absl::StrCat("device \"", text, "\": not in the form /dev/X:ACCESS (rwm order)"));
    }
    specs.push_back(spec);
  }
  return runtime::ValidateDevices(specs);
}

absl::Status ValidateStorage(const ContainerConfig& config) {
  std::vector<std::string> targets;
  for (const std::string& text : config.binds) {
    ASSIGN_OR_RETURN(runtime::BindSpec bind, runtime::ParseBindSpec(text));
    if (runtime::FormatBindSpec(bind) != text) return absl::InvalidArgumentError(absl::StrCat("bind \"", text, "\": not normalized"));
    if (bind.idmap && config.privileged) {
      return absl::InvalidArgumentError(
          absl::StrCat("bind \"", text, "\": idmap needs a user namespace, and a privileged container has none"));
    }
    targets.push_back(bind.target);
  }
  for (const std::string& text : config.tmpfs) {
    ASSIGN_OR_RETURN(runtime::TmpfsSpec tmpfs, runtime::ParseTmpfsSpec(text));
    if (runtime::FormatTmpfsSpec(tmpfs) != text) return absl::InvalidArgumentError(absl::StrCat("tmpfs \"", text, "\": not normalized"));
    targets.push_back(tmpfs.target);
  }
  for (const std::string& text : config.volumes) {
    ASSIGN_OR_RETURN(runtime::VolumeMountSpec volume, runtime::ParseVolumeMountSpec(text));
    if (runtime::FormatVolumeMountSpec(volume) != text) {
      return absl::InvalidArgumentError(absl::StrCat("volume \"", text, "\": not normalized"));
    }
    targets.push_back(volume.target);
  }
  return runtime::CheckDistinctTargets(targets);
}

absl::Status ValidateConfig(const ContainerConfig& config) {
  RETURN_IF_ERROR(runtime::ValidateContainerName(config.name));
  if (!config.hostname.empty()) RETURN_IF_ERROR(runtime::ValidateHostname(config.hostname));
  if (config.image.empty()) return absl::InvalidArgumentError("no image given");
  if (!config.ports.empty() && config.network != NetworkMode::kBridge) {
    return absl::InvalidArgumentError("port forwards need the bridge network");
  }
  RETURN_IF_ERROR(netcfg::CheckNoOverlap(config.ports));
  for (const netcfg::PortForward& p : config.ports) {
    if (p.host_port == 0 || p.container_port == 0) return absl::InvalidArgumentError("port 0 cannot be forwarded");
  }
  if (config.memory_bytes != 0 && config.memory_bytes < (uint64_t{4} << 20)) {
    return absl::InvalidArgumentError("Memory: at least 4 MiB is needed");
  }
  if (config.cpu_weight > 10000) return absl::InvalidArgumentError("CPUWeight: 1 to 10000");
  if (config.cpu_quota_percent > kMaxCpuQuotaPercent) {
    return absl::InvalidArgumentError(absl::StrCat("CPUQuota: 1 to ", kMaxCpuQuotaPercent, " percent of one CPU"));
  }
  if (absl::StatusOr<RestartPolicy> restart = ParseRestartPolicy(config.restart); !restart.ok()) return restart.status();
  for (const std::string& e : config.env) {
    if (e.empty() || e[0] == '=' || e.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("environment entry \"", e, "\" is not KEY=VALUE"));
    }
  }
  if (!config.boot && config.command.empty()) return absl::InvalidArgumentError("no command and not Boot");
  if (!config.cwd.empty() && (config.cwd[0] != '/' || config.cwd.find('\0') != std::string::npos)) {
    return absl::InvalidArgumentError(absl::StrCat("working directory \"", config.cwd, "\" is not absolute"));
  }
  for (const std::string& layer : config.image_layers) {
    if (layer.empty() || layer[0] != '/') return absl::InvalidArgumentError(absl::StrCat("image layer \"", layer, "\" is not absolute"));
  }
  RETURN_IF_ERROR(ValidateDeviceList(config.devices));
  RETURN_IF_ERROR(ValidateStorage(config));
  if (config.privileged && config.uid_base != 0) {
    return absl::InvalidArgumentError("a privileged container has no user namespace range");
  }
  return absl::OkStatus();
}

std::string ContainerConfig::EffectiveHostname() const {
  return hostname.empty() ? runtime::HostnameFromName(name) : hostname;
}

std::string FormatConfig(const ContainerConfig& c) {
  std::string out;
  auto line = [&out](absl::string_view key, absl::string_view value) {
    absl::StrAppend(&out, key, "=", absl::CEscape(value), "\n");
  };
  // The first line says the file ends with an `end` line counting the lines before it, so a
  // file cut short (a torn write on a file system that does not order data and rename, a
  // disk that filled) is told from a complete one instead of being read as another container.
  line("format", kConfigFormat);
  line("name", c.name);
  line("image", c.image);
  line("image_rootfs", c.image_rootfs);
  for (const std::string& l : c.image_layers) line("image_layer", l);
  line("hostname", c.hostname);
  line("network", NetworkModeName(c.network));
  for (const netcfg::PortForward& p : c.ports) line("port", netcfg::ToString(p));
  line("memory", absl::StrCat(c.memory_bytes));
  line("tasks", absl::StrCat(c.tasks));
  line("cpu_weight", absl::StrCat(c.cpu_weight));
  if (c.cpu_quota_percent != 0) line("cpu_quota", absl::StrCat(c.cpu_quota_percent));
  if (c.restart != "no") line("restart", c.restart);
  for (const std::string& a : c.command) line("command", a);
  for (const std::string& e : c.env) line("env", e);
  line("boot", c.boot ? "yes" : "no");
  if (!c.cwd.empty()) line("cwd", c.cwd);
  if (c.uid != 0 || c.gid != 0) line("user", absl::StrCat(c.uid, ":", c.gid));
  if (c.stop_signal != 0) line("stop_signal", absl::StrCat(c.stop_signal));
  for (const std::string& d : c.devices) line("device", d);
  for (const std::string& b : c.binds) line("bind", b);
  for (const std::string& t : c.tmpfs) line("tmpfs", t);
  for (const std::string& v : c.volumes) line("volume", v);
  line("privileged", c.privileged ? "yes" : "no");
  if (c.uid_base != 0) line("uid_base", absl::StrCat(c.uid_base));
  line("created_usec", absl::StrCat(c.created_usec));
  line("end", absl::StrCat(std::count(out.begin(), out.end(), '\n')));
  return out;
}

namespace {

// With the format line first, the file must be whole: its last line `end=N` counts the N lines
// before it, and it ends with a newline. Without (written before corral had it) it is read as
// it always was.
absl::Status CheckFrame(absl::string_view text) {
  const std::string format_line = absl::StrCat("format=", kConfigFormat, "\n");
  if (absl::StartsWith(format_line, text)) return absl::DataLossError("config is torn: cut off in its first line");
  if (!absl::StartsWith(text, format_line)) return absl::OkStatus();
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  size_t last_start = text.size() >= 2 ? text.rfind('\n', text.size() - 2) : absl::string_view::npos;
  absl::string_view last = last_start == absl::string_view::npos ? "" : text.substr(last_start + 1);
  size_t counted = 0;
  if (text.back() != '\n' || !absl::ConsumePrefix(&last, "end=") || !absl::ConsumeSuffix(&last, "\n") ||
      !absl::SimpleAtoi(last, &counted) || counted + 1 != lines) {
    return absl::DataLossError(absl::StrCat(
        "config is torn: it has ", lines,
        " complete lines and no last line end=N counting the lines before it (cut off? after an edit by hand, "
        "set N to the number of lines before it)"));
  }
  return absl::OkStatus();
}

// One key=value line into `c`. Unknown keys are skipped: a config written by a newer corral
// still loads.
absl::Status ParseConfigLine(absl::string_view key, const std::string& value, ContainerConfig& c) {
  auto number_of = [&](uint64_t* out) -> absl::Status {
    if (!absl::SimpleAtoi(value, out)) return absl::InvalidArgumentError(absl::StrCat("config ", key, ": not a number"));
    return absl::OkStatus();
  };
  if (key == "name") {
    c.name = value;
  } else if (key == "image") {
    c.image = value;
  } else if (key == "image_rootfs") {
    c.image_rootfs = value;
  } else if (key == "image_layer") {
    c.image_layers.push_back(value);
  } else if (key == "cwd") {
    c.cwd = value;
  } else if (key == "user") {
    std::pair<std::string, std::string> ids = absl::StrSplit(value, absl::MaxSplits(':', 1));
    if (!absl::SimpleAtoi(ids.first, &c.uid) || !absl::SimpleAtoi(ids.second, &c.gid) || c.uid == UINT32_MAX ||
        c.gid == UINT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("config user: \"", value, "\" is not UID:GID"));
    }
  } else if (key == "stop_signal") {
    uint64_t v = 0;
    RETURN_IF_ERROR(number_of(&v));
    if (v == 0 || v > 64) return absl::InvalidArgumentError(absl::StrCat("config stop_signal: ", value, " is not a signal"));
    c.stop_signal = static_cast<int>(v);
  } else if (key == "hostname") {
    c.hostname = value;
  } else if (key == "network") {
    ASSIGN_OR_RETURN(c.network, ParseNetworkMode(value));
  } else if (key == "port") {
    ASSIGN_OR_RETURN(netcfg::PortForward p, netcfg::ParsePortForward(value));
    c.ports.push_back(p);
  } else if (key == "memory") {
    RETURN_IF_ERROR(number_of(&c.memory_bytes));
  } else if (key == "tasks") {
    RETURN_IF_ERROR(number_of(&c.tasks));
  } else if (key == "cpu_weight") {
    RETURN_IF_ERROR(number_of(&c.cpu_weight));
  } else if (key == "cpu_quota") {
    RETURN_IF_ERROR(number_of(&c.cpu_quota_percent));
  } else if (key == "restart") {
    c.restart = value;
  } else if (key == "command") {
    c.command.push_back(value);
  } else if (key == "env") {
    c.env.push_back(value);
  } else if (key == "boot") {
    c.boot = value == "yes";
  } else if (key == "device") {
    c.devices.push_back(value);
  } else if (key == "bind") {
    c.binds.push_back(value);
  } else if (key == "tmpfs") {
    c.tmpfs.push_back(value);
  } else if (key == "volume") {
    c.volumes.push_back(value);
  } else if (key == "privileged") {
    c.privileged = value == "yes";
  } else if (key == "uid_base") {
    uint64_t v = 0;
    RETURN_IF_ERROR(number_of(&v));
    if (v < 65536 || v > UINT32_MAX - 65536) {
      return absl::InvalidArgumentError(absl::StrCat("config uid_base: ", v, " is not a host id range's start"));
    }
    c.uid_base = static_cast<uint32_t>(v);
  } else if (key == "format" || key == "end") {
    // the frame, checked above
  } else if (key == "created_usec") {
    uint64_t v = 0;
    RETURN_IF_ERROR(number_of(&v));
    // A time past INT64_MAX would turn negative here and be written back as what no longer
    // parses (found by tests/fuzz/container_config_fuzz).
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(absl::StrCat("config ", key, ": ", value, " is out of range"));
    }
    c.created_usec = static_cast<int64_t>(v);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ContainerConfig> ParseConfig(absl::string_view text) {
  ContainerConfig c;
  if (absl::StripAsciiWhitespace(text).empty()) return absl::DataLossError("config is empty");
  RETURN_IF_ERROR(CheckFrame(text));
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++number;
    size_t eq = raw.find('=');
    std::string value;
    if (eq == absl::string_view::npos || !absl::CUnescape(raw.substr(eq + 1), &value)) {
      return absl::InvalidArgumentError(absl::StrCat("config line ", number, " is not key=value"));
    }
    RETURN_IF_ERROR(ParseConfigLine(raw.substr(0, eq), value, c));
  }
  RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

}  // namespace corral::dbus
