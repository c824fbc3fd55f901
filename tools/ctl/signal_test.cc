// corralctl kill's signal argument.
#include "tools/ctl/signal.h"

#include <signal.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace corral::tools {
namespace {

int Parsed(const std::string& text) {
  int signal = -12345;
  return ParseSignal(text, &signal) ? signal : -1;
}

TEST(ParseSignalTest, NumbersNamesAndRealTimeSignals) {
  EXPECT_EQ(Parsed("9"), SIGKILL);
  EXPECT_EQ(Parsed("15"), SIGTERM);
  EXPECT_EQ(Parsed("TERM"), SIGTERM);
  EXPECT_EQ(Parsed("SIGTERM"), SIGTERM);
  EXPECT_EQ(Parsed("KILL"), SIGKILL);
  EXPECT_EQ(Parsed("SIGUSR2"), SIGUSR2);
  EXPECT_EQ(Parsed("HUP"), SIGHUP);
  EXPECT_EQ(Parsed("RTMIN+0"), SIGRTMIN);
  EXPECT_EQ(Parsed("RTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(Parsed("SIGRTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(Parsed(std::to_string(SIGRTMAX)), SIGRTMAX);
  EXPECT_EQ(Parsed("RTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN)), SIGRTMAX);
}

TEST(ParseSignalTest, AnythingElseIsRefusedAndLeavesTheValue) {
  for (const std::string& text : std::vector<std::string>{"", "0", "-9", std::to_string(SIGRTMAX + 1), "4294967305", "99999999999",
                                  "term", "SIG", "SIGBOGUS", "RTMIN+", "RTMIN+-1", "RTMIN+x",
                                  "RTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN + 1), "RTMIN+2147483647", "9x",
                                  "KILL ", "SIGSIGKILL"}) {
    int signal = 77;
    EXPECT_FALSE(ParseSignal(text, &signal)) << text;
    EXPECT_EQ(signal, 77) << text << ": a refused text must not change the value";
  }
}

}  // namespace
}  // namespace corral::tools
