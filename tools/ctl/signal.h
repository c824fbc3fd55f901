// corralctl kill's SIGNAL argument: a number, a name with or without SIG ("TERM", "SIGKILL"), or
// a real-time signal as RTMIN+N. Pure, unit-tested (tools/ctl/signal_test.cc).
#ifndef CORRAL_TOOLS_CTL_SIGNAL_H_
#define CORRAL_TOOLS_CTL_SIGNAL_H_

#include <string>

namespace corral::tools {

// True with *signal set for a signal of this system (1..SIGRTMAX); false for anything else.
bool ParseSignal(const std::string& text, int* signal);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_SIGNAL_H_
