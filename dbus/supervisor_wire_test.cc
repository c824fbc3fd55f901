// The supervisor's report lines and state file (dbus/supervisor_wire.h).
#include "dbus/supervisor_wire.h"

#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

using Kind = SupervisorReport::Kind;

TEST(SupervisorReportTest, EveryLineKindReadsAndWritesBack) {
  for (const char* line : {"ok 42 10.77.0.2/16 fd00::2/64", "ok 7", "phases scope=10;overlay rootfs=3400", "phases ",
                           "ready", "error mount the overlay: No space left on device", "error ", "exit 137"}) {
    absl::StatusOr<SupervisorReport> report = ParseSupervisorReport(line);
    ASSERT_TRUE(report.ok()) << line << ": " << report.status();
    EXPECT_EQ(FormatSupervisorReport(*report), line);
  }
  absl::StatusOr<SupervisorReport> ok = ParseSupervisorReport("ok 42 10.77.0.2/16");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->kind, Kind::kOk);
  EXPECT_EQ(ok->leader, 42);
  EXPECT_EQ(ok->addresses, (std::vector<std::string>{"10.77.0.2/16"}));
  absl::StatusOr<SupervisorReport> phases = ParseSupervisorReport("phases a=1;bad;=3;b=x;c=2");
  ASSERT_TRUE(phases.ok());
  EXPECT_EQ(phases->phases, (std::vector<std::pair<std::string, uint64_t>>{{"a", 1}, {"c", 2}}))
      << "items that are not NAME=US are skipped";
}

TEST(SupervisorReportTest, AnOkWithoutARealLeaderAndUnknownLinesAreRefused) {
  for (const char* line : {"ok", "ok ", "ok 0", "ok -1", "ok x 10.77.0.2/16", "exit", "exit x", "", "OK 5", "bogus",
                           "ready now"}) {
    EXPECT_FALSE(ParseSupervisorReport(line).ok()) << line;
  }
}

TEST(SupervisorStateTest, ReadsBackWhatIsWrittenAndNeedsBothPids) {
  SupervisorState state{10, 11, {"10.77.0.3/16"}};
  absl::StatusOr<SupervisorState> read = ParseSupervisorState(FormatSupervisorState(state));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->supervisor, 10);
  EXPECT_EQ(read->leader, 11);
  EXPECT_EQ(read->addresses, state.addresses);
  for (const char* text : {"", "supervisor=5\n", "leader=5\n", "supervisor=0\nleader=3\n", "supervisor=x\nleader=3\n",
                           "supervisor=-4\nleader=3\n"}) {
    EXPECT_EQ(ParseSupervisorState(text).status().code(), absl::StatusCode::kDataLoss) << text;
  }
}

}  // namespace
}  // namespace corral::dbus
