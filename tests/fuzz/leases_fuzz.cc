// The network leases file (/var/lib/corral/network/leases), shared by corrald and corral-run.
#include "netcfg/ipam.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  corral::fuzz::CheckRoundTrip(corral::fuzz::AsText(data, size), corral::netcfg::ParseLeases,
                               corral::netcfg::FormatLeases);
  return 0;
}
