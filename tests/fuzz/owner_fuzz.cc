// What netcfg reads from the kernel and from nft to tell whose a lease or forward is: run lease
// names, /proc/net/unix, `nft list map` output, /proc/PID/stat. The first byte picks which.
#include "common/files.h"
#include "netcfg/nat.h"
#include "netcfg/owner.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view text = corral::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      (void)corral::netcfg::ParseRunLeaseName(text);
      break;
    case 1:
      (void)corral::netcfg::ParseHeldNetworkClaims(text);
      break;
    case 2:
      (void)corral::netcfg::ParseMapForwards(text);
      break;
    case 3:
      (void)corral::ParseStatStartTime(text);
      break;
  }
  return 0;
}
