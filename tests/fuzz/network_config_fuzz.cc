// netcfg's configuration (network.conf) and the small values of the command line and D-Bus:
// addresses, interfaces, port forwards, protocols, byte sizes. The first byte picks which.
#include <cstdint>

#include "netcfg/config.h"
#include "netcfg/ipv4.h"
#include "netcfg/ports.h"
#include "runtime/spec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view text = corral::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      (void)corral::netcfg::ParseNetworkConfig(text);
      break;
    case 1:
      (void)corral::netcfg::ParseIpv4(text);
      break;
    case 2:
      (void)corral::netcfg::ParseIpv4Interface(text);
      break;
    case 3:
      (void)corral::netcfg::ParsePortForward(text);
      break;
    case 4:
      (void)corral::netcfg::ParseProtocol(text);
      break;
    case 5: {
      uint64_t bytes = 0;
      (void)corral::runtime::ParseByteSize(text, &bytes);
      break;
    }
  }
  return 0;
}
