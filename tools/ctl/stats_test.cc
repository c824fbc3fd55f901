// corralctl stats/top formatting: CPU % from two samples, units as docker shows them, the
// table's columns and the JSON keys DESIGN.md fixes.
#include "tools/ctl/stats.h"

#include "gtest/gtest.h"

namespace corral::tools {
namespace {

StatsSample Sample(const std::string& name, uint64_t t, uint64_t cpu) {
  StatsSample s;
  s.name = name;
  s.numbers = {{"timestamp_usec", t},         {"cpu_usage_usec", cpu},     {"memory_current", 22020096},
               {"memory_limit", 67108864},    {"memory_peak", 23068672},   {"pids_current", 3},
               {"pids_limit", 0},             {"net_rx_bytes", 1500},      {"net_tx_bytes", 2500000},
               {"io_read_bytes", 0},          {"io_write_bytes", 4096}};
  s.layout = "hybrid";
  return s;
}

TEST(CtlStats, CpuPercentFromTwoSamples) {
  StatsSample a = Sample("web", 1000000, 500000), b = Sample("web", 2000000, 1400000);
  ASSERT_TRUE(CpuPercent(&a, b).has_value());
  EXPECT_DOUBLE_EQ(*CpuPercent(&a, b), 90.0);
  EXPECT_FALSE(CpuPercent(nullptr, b).has_value());
  EXPECT_FALSE(CpuPercent(&b, a).has_value());  // time went backwards: another run
  StatsSample c = Sample("web", 2000000, 2400000);
  EXPECT_DOUBLE_EQ(*CpuPercent(&a, c), 190.0);  // two CPUs busy
}

TEST(CtlStats, Units) {
  EXPECT_EQ(FormatBinary(0), "0B");
  EXPECT_EQ(FormatBinary(1536), "1.50KiB");
  EXPECT_EQ(FormatBinary(67108864), "64.0MiB");
  EXPECT_EQ(FormatBinary(22020096), "21.0MiB");
  EXPECT_EQ(FormatDecimal(1500), "1.50kB");
  EXPECT_EQ(FormatDecimal(2500000), "2.50MB");
  EXPECT_EQ(FormatDecimal(999), "999B");
  EXPECT_EQ(FormatCpuTime(5300000), "0:05");
  EXPECT_EQ(FormatCpuTime(3723000000), "1:02:03");
}

TEST(CtlStats, TableHasDockersColumns) {
  StatsSample a = Sample("web", 1000000, 500000);
  std::string table = FormatStatsTable({a}, {45.5}, 0);
  EXPECT_NE(table.find("NAME"), std::string::npos);
  EXPECT_NE(table.find("CPU %"), std::string::npos);
  EXPECT_NE(table.find("MEM USAGE / LIMIT"), std::string::npos);
  EXPECT_NE(table.find("BLOCK I/O"), std::string::npos);
  EXPECT_NE(table.find("45.50%"), std::string::npos) << table;
  EXPECT_NE(table.find("21.0MiB / 64.0MiB"), std::string::npos) << table;
  EXPECT_NE(table.find("32.81%"), std::string::npos) << table;  // 21 of 64 MiB
  EXPECT_NE(table.find("1.50kB / 2.50MB"), std::string::npos) << table;
  // No limit: the host's memory stands in, as docker shows it.
  a.numbers["memory_limit"] = 0;
  EXPECT_NE(FormatStatsTable({a}, {std::nullopt}, 2147483648).find("21.0MiB / 2.00GiB"), std::string::npos);
  EXPECT_NE(FormatStatsTable({a}, {std::nullopt}, 0).find("--"), std::string::npos);
}

TEST(CtlStats, JsonCarriesTheFixedKeys) {
  std::string json = FormatStatsJson({Sample("web", 1, 2)}, {});
  for (const char* key : {"\"name\": \"web\"", "\"memory_current\": 22020096", "\"cpu_usage_usec\": 2",
                          "\"pids_current\": 3", "\"memory_limit\": 67108864", "\"cgroup_layout\": \"hybrid\"",
                          "\"cpu_percent\": null"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  EXPECT_EQ(FormatStatsJson({}, {}), "[]\n");
  EXPECT_NE(FormatStatsJson({Sample("web", 1, 2)}, {12.345}).find("\"cpu_percent\": 12.35"), std::string::npos);
}

TEST(CtlTop, SortedByThePidInside) {
  std::string table = FormatTopTable({{200, 7, 0, 1000000, 4096, "sleep 100"}, {100, 1, 33, 0, 1048576, "sh -c x"}});
  size_t first = table.find("sh -c x"), second = table.find("sleep 100");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_NE(table.find("HOST PID"), std::string::npos);
  EXPECT_NE(table.find("1.00MiB"), std::string::npos) << table;
}

}  // namespace
}  // namespace corral::tools
