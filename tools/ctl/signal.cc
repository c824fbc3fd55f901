#include "tools/ctl/signal.h"

#include <signal.h>
#include <string.h>

#include "absl/strings/numbers.h"

namespace corral::tools {

bool ParseSignal(const std::string& text, int* signal) {
  int number = 0;
  if (absl::SimpleAtoi(text, &number)) {
    if (number < 1 || number > SIGRTMAX) return false;
    *signal = number;
    return true;
  }
  std::string name = text.rfind("SIG", 0) == 0 ? text.substr(3) : text;
  if (name.rfind("RTMIN+", 0) == 0) {
    int offset = 0;
    if (!absl::SimpleAtoi(name.substr(6), &offset) || offset < 0 || offset > SIGRTMAX - SIGRTMIN) return false;
    *signal = SIGRTMIN + offset;
    return true;
  }
  for (int s = 1; s < NSIG; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (abbrev != nullptr && name == abbrev) {
      *signal = s;
      return true;
    }
  }
  return false;
}

}  // namespace corral::tools
