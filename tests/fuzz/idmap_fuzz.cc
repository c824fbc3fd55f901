// The uid pool: its configuration (/etc/corral/idmap.conf) and its allocations file. The first
// byte picks which.
#include "runtime/idmap.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view text = corral::fuzz::AsText(data + 1, size - 1);
  if (data[0] & 1) {
    absl::StatusOr<corral::runtime::IdPoolConfig> config = corral::runtime::ParseIdPoolConfig(text);
    if (config.ok()) (void)corral::runtime::ValidateIdPoolConfig(*config);
  } else {
    corral::fuzz::CheckRoundTrip(text, corral::runtime::ParseAllocations, corral::runtime::FormatAllocations);
  }
  return 0;
}
