// libFuzzer harness: container configs (dbus/container_config.h) as read from
// /var/lib/corral/containers/NAME/config. Whatever parses must format and parse back the same.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dbus/container_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<corral::dbus::ContainerConfig> config = corral::dbus::ParseConfig(text);
  if (!config.ok()) return 0;
  std::string formatted = corral::dbus::FormatConfig(*config);
  absl::StatusOr<corral::dbus::ContainerConfig> again = corral::dbus::ParseConfig(formatted);
  if (!again.ok() || corral::dbus::FormatConfig(*again) != formatted) std::abort();
  return 0;
}
