// libFuzzer harness: the leases file (netcfg/ipam.h) and the uid pool's files
// (runtime/idmap.h), as read from /var/lib/corral.
#include <cstdint>
#include <string>

#include "netcfg/ipam.h"
#include "runtime/idmap.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)corral::netcfg::ParseLeases(text);
  (void)corral::runtime::ParseAllocations(text);
  (void)corral::runtime::ParseIdPoolConfig(text);
  return 0;
}
