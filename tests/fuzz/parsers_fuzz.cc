// The small parsers of outside input: port forwards (-p, Ports), byte sizes
// (--memory), device specs (--device, Devices), container names and the host names derived
// from them, /proc/PID/stat start times. A valid name must always give a valid host name.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/files.h"
#include "netcfg/ports.h"
#include "runtime/devices.h"
#include "runtime/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)corral::netcfg::ParsePortForward(text);
  uint64_t bytes = 0;
  (void)corral::runtime::ParseByteSize(text, &bytes);
  (void)corral::runtime::ParseDeviceSpecText(text);
  (void)corral::ParseStatStartTime(text);
  if (corral::runtime::ValidateContainerName(text).ok() &&
      !corral::runtime::ValidateHostname(corral::runtime::HostnameFromName(text)).ok()) {
    std::abort();
  }
  (void)corral::runtime::ValidateHostname(text);
  return 0;
}
