// corralctl kill's SIGNAL argument (tools/ctl/signal.h): never a crash or an overflow, and
// whatever it accepts is a signal of this system.
#include <signal.h>

#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tools/ctl/signal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int signal = 0;
  if (corral::tools::ParseSignal(std::string(corral::fuzz::AsText(data, size)), &signal) &&
      (signal < 1 || signal > SIGRTMAX)) {
    std::abort();
  }
  return 0;
}
