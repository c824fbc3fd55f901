// The storage and policy options of the command line, D-Bus and the config: --bind, --tmpfs,
// --volume, --restart, `logs --since`. The first byte picks which; each with a writer must read
// back what it wrote.
#include <cstdint>

#include "dbus/restart_policy.h"
#include "runtime/storage_spec.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/ctl/logs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view text = corral::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      corral::fuzz::CheckRoundTrip(text, corral::runtime::ParseBindSpec, corral::runtime::FormatBindSpec);
      break;
    case 1:
      corral::fuzz::CheckRoundTrip(text, corral::runtime::ParseTmpfsSpec, corral::runtime::FormatTmpfsSpec);
      break;
    case 2:
      corral::fuzz::CheckRoundTrip(text, corral::runtime::ParseVolumeMountSpec, corral::runtime::FormatVolumeMountSpec);
      break;
    case 3:
      corral::fuzz::CheckRoundTrip(text, corral::dbus::ParseRestartPolicy, corral::dbus::FormatRestartPolicy);
      break;
    case 4:
      (void)corral::tools::ParseSince(text, 1796167187832885);
      break;
  }
  return 0;
}
