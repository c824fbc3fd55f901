#include "netcfg/config.h"

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"

namespace corral::netcfg {

absl::Status ValidateInterfaceName(absl::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == ".." ||
      name.find_first_of("/: \t\n") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", name, "\" is not an interface name (1 to 15 characters, no '/', ':' or spaces)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NetworkConfig> ParseNetworkConfig(absl::string_view text) {
  NetworkConfig config;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("network config line ", line_number, ": ", what));
    };
    if (eq == absl::string_view::npos) return error(absl::StrCat("\"", line, "\" is not key = value"));
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (key == "bridge") {
      if (absl::Status s = ValidateInterfaceName(value); !s.ok()) return error(absl::StrCat("bridge: ", s.message()));
      config.bridge = std::string(value);
    } else if (key == "address") {
      absl::StatusOr<Ipv4Interface> gateway = ParseIpv4Interface(value);
      if (!gateway.ok()) return error(absl::StrCat("address: ", gateway.status().message()));
      config.gateway = *gateway;
    } else if (key == "mtu") {
      if (!absl::SimpleAtoi(value, &config.mtu) || config.mtu < 576 || config.mtu > 65535) {
        return error(absl::StrCat("mtu: \"", value, "\" is not a number from 576 to 65535"));
      }
    } else if (key == "dns") {
      config.dns.clear();
      for (absl::string_view server : absl::StrSplit(value, ' ', absl::SkipEmpty())) {
        absl::StatusOr<uint32_t> address = ParseIpv4(server);
        if (!address.ok()) return error(absl::StrCat("dns: ", address.status().message()));
        config.dns.emplace_back(server);
      }
    } else if (key == "resolv_conf" || key == "state_dir" || key == "run_dir") {
      if (value.empty() || value[0] != '/') return error(absl::StrCat(key, ": \"", value, "\" is not an absolute path"));
      (key == "resolv_conf" ? config.resolv_conf : key == "state_dir" ? config.state_dir : config.run_dir) =
          std::string(value);
    } else {
      return error(absl::StrCat("unknown key \"", key, "\""));
    }
  }
  return config;
}

absl::StatusOr<NetworkConfig> LoadNetworkConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return NetworkConfig{};
    return text.status();
  }
  absl::StatusOr<NetworkConfig> config = ParseNetworkConfig(*text);
  if (!config.ok()) return Annotate(config.status(), path);
  return config;
}

}  // namespace corral::netcfg
