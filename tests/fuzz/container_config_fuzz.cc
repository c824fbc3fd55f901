// corrald's container config file (/var/lib/corral/containers/NAME/config).
#include "dbus/container_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  corral::fuzz::CheckRoundTrip(corral::fuzz::AsText(data, size), corral::dbus::ParseConfig, corral::dbus::FormatConfig);
  return 0;
}
