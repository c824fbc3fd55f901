// corral-run's and `corralctl create`'s command line: NUL-separated arguments; the first byte
// picks which of the two.
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/run_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<std::string> args = absl::StrSplit(corral::fuzz::AsText(data + 1, size - 1), '\0');
  (void)corral::tools::ParseRunOptions(args, data[0] & 1 ? corral::tools::OptionsFor::kCreate
                                                          : corral::tools::OptionsFor::kRun);
  return 0;
}
