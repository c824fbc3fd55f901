#include "tools/ctl/events.h"

#include <stdlib.h>
#include <time.h>

#include "gtest/gtest.h"

namespace corral::tools {
namespace {

std::vector<std::string> Lines(const std::vector<Event>& events, bool json = false) {
  std::vector<std::string> out;
  for (const Event& e : events) out.push_back(FormatEvent(e, 1714564800000042, json));
  return out;
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

TEST_F(EventsTest, ALifeInOrder) {
  EventTracker t;
  const std::string at = "2024-05-01T12:00:00.000042+00:00 ";
  EXPECT_EQ(Lines(t.Created("web")), std::vector<std::string>{at + "web created"});
  ChangedValues starting;
  starting.state = "starting";
  starting.oom_kills = 0;
  starting.restart_count = 0;
  EXPECT_EQ(Lines(t.Changed("web", starting)), std::vector<std::string>{at + "web starting"});
  ChangedValues running = starting;
  running.state = "running";
  EXPECT_EQ(Lines(t.Changed("web", running)), std::vector<std::string>{at + "web started"});
  EXPECT_TRUE(t.Changed("web", running).empty());  // the same values again: no event
  ChangedValues oom;
  oom.oom_killed = true;
  oom.oom_kills = 1;
  EXPECT_EQ(Lines(t.Changed("web", oom)), std::vector<std::string>{at + "web oom kills=1"});
  ChangedValues stopped;
  stopped.state = "stopped";
  stopped.exit_status = 137;
  stopped.oom_killed = true;
  stopped.oom_kills = 1;
  stopped.restart_count = 0;
  EXPECT_EQ(Lines(t.Changed("web", stopped)),
            std::vector<std::string>{at + "web stopped exit_status=137 oom_killed=true"});
  ChangedValues restart;
  restart.restart_count = 1;
  EXPECT_EQ(Lines(t.Changed("web", restart)), std::vector<std::string>{at + "web restart count=1"});
  ChangedValues again = starting;  // a new run: the counts start at 0 again, silently
  EXPECT_EQ(Lines(t.Changed("web", again)), std::vector<std::string>{at + "web starting"});
  EXPECT_EQ(Lines(t.Removed("web")), std::vector<std::string>{at + "web removed"});
}

TEST_F(EventsTest, BaselineAndLimits) {
  EventTracker t;
  t.Baseline("db", "running", 2, 1);
  ChangedValues same;
  same.state = "running";
  same.oom_kills = 2;
  same.restart_count = 1;
  EXPECT_TRUE(t.Changed("db", same).empty());
  ChangedValues limits;
  limits.memory = 32 << 20;
  limits.cpu_quota = 50;
  limits.tasks = 0;
  EXPECT_EQ(Lines(t.Changed("db", limits), /*json=*/true),
            std::vector<std::string>{"{\"time\": \"2024-05-01T12:00:00.000042+00:00\", \"time_usec\": 1714564800000042, "
                                     "\"container\": \"db\", \"event\": \"limits\", \"memory\": 33554432, "
                                     "\"tasks\": \"none\", \"cpu_quota\": \"50%\"}"});
}

TEST_F(EventsTest, JournalEntriesReadBackAsTheLiveEvents) {
  std::optional<Event> stopped = EventFromJournalFields({{"CORRAL_CONTAINER", "web"},
                                                         {"CORRAL_EVENT", "stopped"},
                                                         {"CORRAL_DETAIL_OOM_KILLED", "false"},
                                                         {"CORRAL_DETAIL_EXIT_STATUS", "3"}});
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(Lines({*stopped}), std::vector<std::string>{"2024-05-01T12:00:00.000042+00:00 web stopped exit_status=3 oom_killed=false"});
  EXPECT_EQ(Lines({*stopped}, true),
            std::vector<std::string>{"{\"time\": \"2024-05-01T12:00:00.000042+00:00\", \"time_usec\": 1714564800000042, "
                                     "\"container\": \"web\", \"event\": \"stopped\", \"exit_status\": 3, \"oom_killed\": false}"});
  std::optional<Event> limits = EventFromJournalFields({{"CORRAL_CONTAINER", "db"},
                                                        {"CORRAL_EVENT", "limits"},
                                                        {"CORRAL_DETAIL_CPU_QUOTA", "50%"},
                                                        {"CORRAL_DETAIL_TASKS", "none"},
                                                        {"CORRAL_DETAIL_MEMORY", "33554432"},
                                                        {"CORRAL_DETAIL_CPU_WEIGHT", "none"}});
  ASSERT_TRUE(limits.has_value());
  EXPECT_EQ(Lines({*limits}, true),
            std::vector<std::string>{"{\"time\": \"2024-05-01T12:00:00.000042+00:00\", \"time_usec\": 1714564800000042, "
                                     "\"container\": \"db\", \"event\": \"limits\", \"memory\": 33554432, \"tasks\": \"none\", "
                                     "\"cpu_weight\": \"none\", \"cpu_quota\": \"50%\"}"});
  // corrald's other messages carry CORRAL_EVENT too (start-failed, restart-failed): not events.
  EXPECT_FALSE(EventFromJournalFields({{"CORRAL_CONTAINER", "web"}, {"CORRAL_EVENT", "start-failed"}}).has_value());
  EXPECT_FALSE(EventFromJournalFields({{"CORRAL_EVENT", "started"}}).has_value());
}

}  // namespace
}  // namespace corral::tools
