#include "dbus/supervisor/protocol.h"

#include <string>
#include <variant>

#include "dbus/supervisor/state_file.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

template <typename T>
T RoundTrip(const T& report) {
  std::string line = FormatReport(report);
  absl::StatusOr<Report> parsed = ParseReport(line);
  EXPECT_TRUE(parsed.ok()) << line << ": " << parsed.status();
  EXPECT_TRUE(std::holds_alternative<T>(*parsed)) << line;
  return std::get<T>(*parsed);
}

TEST(ProtocolTest, PhasesRoundTrip) {
  PhasesReport report{{{"cgroup leaves", 12}, {"overlay rootfs", 3400}, {"clone", 0}}};
  EXPECT_EQ(FormatReport(report), "phases cgroup leaves=12;overlay rootfs=3400;clone=0");
  EXPECT_EQ(RoundTrip(report).phases, report.phases);
  EXPECT_TRUE(RoundTrip(PhasesReport{}).phases.empty());
}

TEST(ProtocolTest, PhaseNamesCannotBreakTheLine) {
  PhasesReport report{{{"a;b=c\nd", 5}}};
  PhasesReport back = RoundTrip(report);
  ASSERT_EQ(back.phases.size(), 1u);
  EXPECT_EQ(back.phases[0].first, "a b c d");
  EXPECT_EQ(back.phases[0].second, 5u);
}

TEST(ProtocolTest, OkRoundTrip) {
  OkReport report{4242, {"10.77.0.2/16", "fd00::2/64"}};
  EXPECT_EQ(FormatReport(report), "ok 4242 10.77.0.2/16 fd00::2/64");
  OkReport back = RoundTrip(report);
  EXPECT_EQ(back.leader, 4242);
  EXPECT_EQ(back.addresses, report.addresses);
  EXPECT_EQ(FormatReport(OkReport{7, {}}), "ok 7");
  EXPECT_TRUE(RoundTrip(OkReport{7, {}}).addresses.empty());
}

TEST(ProtocolTest, ReadyErrorExitRoundTrip) {
  EXPECT_EQ(FormatReport(ReadyReport{}), "ready");
  RoundTrip(ReadyReport{});
  ErrorReport error{"mount the overlay rootfs at /x: Permission denied\nsecond line"};
  EXPECT_EQ(RoundTrip(error).message, "mount the overlay rootfs at /x: Permission denied second line");
  EXPECT_EQ(FormatReport(ExitReport{137}), "exit 137");
  EXPECT_EQ(RoundTrip(ExitReport{137}).status, 137);
  EXPECT_EQ(RoundTrip(ExitReport{0}).status, 0);
}

TEST(ProtocolTest, MalformedLinesAreRefused) {
  for (const char* line : {"", "ok", "ok ", "ok x", "ok -3", "ok 0", "ok x 10.77.0.2/16", "exit", "exit x", "readyy",
                           "ready now", "hello", "OK 1", "bogus", "phases"}) {
    EXPECT_FALSE(ParseReport(line).ok()) << "\"" << line << "\"";
  }
}

TEST(ProtocolTest, PhaseItemsThatAreNotNameEqualsUsAreSkipped) {
  absl::StatusOr<PhasesReport> phases = ParsePhasesReport("phases a=1;bad;=3;b=x;c=2");
  ASSERT_TRUE(phases.ok()) << phases.status();
  EXPECT_EQ(phases->phases, (std::vector<std::pair<std::string, uint64_t>>{{"a", 1}, {"c", 2}}));
}

TEST(ProtocolTest, EveryLineReadsAndWritesBackTheSame) {
  for (const char* line : {"ok 42 10.77.0.2/16 fd00::2/64", "ok 7", "phases scope=10;overlay rootfs=3400", "phases ",
                           "ready", "error mount the overlay: No space left on device", "error ", "exit 137"}) {
    absl::StatusOr<Report> report = ParseReport(line);
    ASSERT_TRUE(report.ok()) << line << ": " << report.status();
    EXPECT_EQ(FormatReport(*report), line);
  }
}

TEST(ProtocolTest, LinesAreTakenWhole) {
  std::string buffer = "phases a=1\nok 12 10.0.0.2/8\nrea";
  std::vector<std::string> lines = TakeReportLines(&buffer);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "phases a=1");
  EXPECT_EQ(lines[1], "ok 12 10.0.0.2/8");
  EXPECT_EQ(buffer, "rea");
  buffer += "dy\n";
  lines = TakeReportLines(&buffer);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "ready");
  EXPECT_TRUE(buffer.empty());
}

// Moved here from dbus/registry_test.cc with the state file.
TEST(SupervisorStateTest, RoundTrip) {
  SupervisorState state{12, 34, {"10.77.0.2/16"}};
  auto parsed = ParseSupervisorState(FormatSupervisorState(state));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->supervisor, 12);
  EXPECT_EQ(parsed->leader, 34);
  EXPECT_EQ(parsed->addresses, state.addresses);
  EXPECT_FALSE(ParseSupervisorState("leader=3\n").ok());
}

TEST(StateFileTest, RoundTrip) {
  SupervisorState state{100, 101, {"10.77.0.2/16"}};
  EXPECT_EQ(FormatSupervisorState(state), "supervisor=100\nleader=101\naddresses=10.77.0.2/16\n");
  absl::StatusOr<SupervisorState> back = ParseSupervisorState(FormatSupervisorState(state));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->supervisor, 100);
  EXPECT_EQ(back->leader, 101);
  EXPECT_EQ(back->addresses, state.addresses);
  EXPECT_TRUE(ParseSupervisorState(FormatSupervisorState({5, 6, {}}))->addresses.empty());
}

TEST(StateFileTest, GarbageIsDataLoss) {
  for (const char* text : {"", "supervisor=1\n", "leader=2\n", "supervisor=x\nleader=2\n", "supervisor=-1\nleader=2\n"}) {
    EXPECT_TRUE(absl::IsDataLoss(ParseSupervisorState(text).status())) << text;
  }
}

}  // namespace
}  // namespace corral::dbus
