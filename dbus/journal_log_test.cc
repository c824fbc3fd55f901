#include "dbus/journal_log.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

std::vector<std::string> Split(LineSplitter& splitter, absl::string_view data, bool flush = false) {
  std::vector<std::string> lines;
  splitter.Feed(data, [&](absl::string_view l) { lines.emplace_back(l); });
  if (flush) splitter.Flush([&](absl::string_view l) { lines.emplace_back(l); });
  return lines;
}

TEST(PriorityPrefix, TakesSingleDigitLevels) {
  absl::string_view line = "<3>disk on fire";
  EXPECT_EQ(TakePriorityPrefix(&line, 6), 3);
  EXPECT_EQ(line, "disk on fire");
}

TEST(PriorityPrefix, SyslogPriWithFacilityGivesItsLevel) {
  absl::string_view line = "<30>daemon info";  // LOG_DAEMON | LOG_INFO
  EXPECT_EQ(TakePriorityPrefix(&line, 5), 6);
  EXPECT_EQ(line, "daemon info");
}

TEST(PriorityPrefix, LeavesEverythingElse) {
  for (absl::string_view text : {"plain", "<>empty", "<x>nondigit", "<192>too big", "<3", "", "<1234>long", " <3>late"}) {
    absl::string_view line = text;
    EXPECT_EQ(TakePriorityPrefix(&line, 6), 6) << text;
    EXPECT_EQ(line, text);
  }
  absl::string_view only = "<7>";
  EXPECT_EQ(TakePriorityPrefix(&only, 6), 7);
  EXPECT_EQ(only, "");
}

TEST(LineSplitter, SplitsOnNewlineAndDropsPtyCarriageReturns) {
  LineSplitter s(100);
  EXPECT_EQ(Split(s, "one\r\ntwo\nthr"), (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(s.has_partial());
  EXPECT_EQ(Split(s, "ee\r\n\n"), (std::vector<std::string>{"three", ""}));
  EXPECT_FALSE(s.has_partial());
}

TEST(LineSplitter, CutsLongLines) {
  LineSplitter s(4);
  EXPECT_EQ(Split(s, "abcdefghij\n"), (std::vector<std::string>{"abcd", "efgh", "ij"}));
  EXPECT_EQ(Split(s, "ab"), std::vector<std::string>{});
  EXPECT_EQ(Split(s, "cdef"), (std::vector<std::string>{"abcd"}));
  EXPECT_EQ(Split(s, "", /*flush=*/true), (std::vector<std::string>{"ef"}));
}

TEST(LineRateLimiter, BudgetPerIntervalThenOneCount) {
  LineRateLimiter limiter(1000, 3);
  uint64_t t = 5000;
  EXPECT_TRUE(limiter.Allow(t));
  EXPECT_TRUE(limiter.Allow(t + 1));
  EXPECT_TRUE(limiter.Allow(t + 2));
  EXPECT_EQ(limiter.NoticeDueUsec(), 0u);
  EXPECT_FALSE(limiter.Allow(t + 3));
  EXPECT_FALSE(limiter.Allow(t + 4));
  EXPECT_EQ(limiter.NoticeDueUsec(), t + 1000);
  EXPECT_EQ(limiter.TakeSuppressed(t + 999), 0u);  // not before the window ends
  // Past the window but before the notice is taken: still counted, the notice comes first.
  EXPECT_FALSE(limiter.Allow(t + 1500));
  EXPECT_EQ(limiter.TakeSuppressed(t + 1500), 3u);
  EXPECT_EQ(limiter.TakeSuppressed(t + 1500), 0u);
  EXPECT_TRUE(limiter.Allow(t + 1501));  // a new window, a new budget
  EXPECT_TRUE(limiter.Allow(t + 1502));
  EXPECT_TRUE(limiter.Allow(t + 1503));
  EXPECT_FALSE(limiter.Allow(t + 1504));
}

TEST(LineRateLimiter, WindowsRollWithoutSuppression) {
  LineRateLimiter limiter(1000, 1);
  EXPECT_TRUE(limiter.Allow(10));
  EXPECT_TRUE(limiter.Allow(1010));
  EXPECT_TRUE(limiter.Allow(2500));
  EXPECT_FALSE(limiter.Allow(2600));
}

TEST(JournalEntry, NativeProtocol) {
  EXPECT_EQ(FormatJournalEntry({{"MESSAGE", "hi"}, {"PRIORITY", "6"}}), "MESSAGE=hi\nPRIORITY=6\n");
  std::string binary = FormatJournalEntry({{"MESSAGE", "a\nb"}});
  EXPECT_EQ(binary, std::string("MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n", 8 + 8 + 4));
}

// A fake journald: a datagram socket in a temporary directory.
class FakeJournal {
 public:
  FakeJournal() {
    char dir[] = "/tmp/journal_log_test.XXXXXX";
    dir_ = ::mkdtemp(dir);
    path_ = dir_ + "/socket";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  }
  ~FakeJournal() {
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> Receive() {
    std::vector<std::string> entries;
    char buffer[65536];
    ssize_t n;
    while ((n = ::recv(fd_, buffer, sizeof(buffer), 0)) > 0) entries.emplace_back(buffer, n);
    return entries;
  }

 private:
  std::string dir_, path_;
  int fd_ = -1;
};

TEST(ConsoleJournal, LinesWithFieldsAndPriorities) {
  FakeJournal journal;
  ConsoleJournal console("web", "corral-web.scope", journal.path(), 1000000, 100);
  console.Feed("hello\r\n<3>bad th", 1);
  console.Feed("ing\r\nunfinished", 2);
  std::vector<std::string> entries = journal.Receive();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0],
            "MESSAGE=hello\nPRIORITY=6\nSYSLOG_IDENTIFIER=web\nCONTAINER_NAME=web\nCORRAL_UNIT=corral-web.scope\n"
            "CORRAL_STREAM=console\n");
  EXPECT_NE(entries[1].find("MESSAGE=bad thing\nPRIORITY=3\n"), std::string::npos);
  console.Flush(3);
  entries = journal.Receive();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_NE(entries[0].find("MESSAGE=unfinished\n"), std::string::npos);
}

TEST(ConsoleJournal, FloodIsCutToTheBudgetThenOneNotice) {
  FakeJournal journal;
  ConsoleJournal console("web", "corral-web.scope", journal.path(), 1000000, 10);
  std::string flood;
  for (int i = 0; i < 500; ++i) flood += "line " + std::to_string(i) + "\n";
  console.Feed(flood, 100);
  EXPECT_EQ(journal.Receive().size(), 10u);
  EXPECT_EQ(console.PollTimeoutMs(100), 1000);  // the notice is due when the window ends
  console.Tick(500000);
  EXPECT_TRUE(journal.Receive().empty());
  console.Tick(1000100);
  std::vector<std::string> entries = journal.Receive();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_NE(entries[0].find("MESSAGE=corral: 490 lines of web's output suppressed"), std::string::npos);
  EXPECT_NE(entries[0].find("PRIORITY=4"), std::string::npos);
  EXPECT_EQ(console.PollTimeoutMs(1000100), -1);
  console.Feed("after the flood\n", 1000200);
  entries = journal.Receive();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_NE(entries[0].find("MESSAGE=after the flood\n"), std::string::npos);
}

TEST(ConsoleJournal, NoJournalNeverBlocksAndCountsDrops) {
  ConsoleJournal console("web", "corral-web.scope", "/nonexistent/socket", 1000000, 10);
  console.Feed("a\nb\n", 1);
  EXPECT_EQ(console.sent(), 0u);
  EXPECT_GE(console.dropped(), 2u);
  // A flood without a journal: the budget's lines and one drop notice a second, not one per line.
  std::string flood;
  for (int i = 0; i < 1000; ++i) flood += "x\n";
  uint64_t before = console.dropped();
  console.Feed(flood, 2);
  EXPECT_LE(console.dropped() - before, 12u);
}

TEST(ConsoleJournal, DropsAreReportedOnceTheJournalTakesEntries) {
  FakeJournal journal;
  ConsoleJournal console("web", "corral-web.scope", journal.path(), 1000000, 100);
  // Fill the fake journal's queue (nobody reads it) until a line is dropped.
  std::string line(4000, 'y');
  line += "\n";
  for (int i = 0; i < 100 && console.dropped() == 0; ++i) console.Feed(line, 10 + i);
  ASSERT_GT(console.dropped(), 0u);
  journal.Receive();  // journald catches up
  console.Feed("later\n", 5000000);
  std::vector<std::string> entries = journal.Receive();
  ASSERT_GE(entries.size(), 2u);
  EXPECT_NE(entries[0].find("output dropped (the journal was busy)"), std::string::npos);
  EXPECT_NE(entries[1].find("MESSAGE=later\n"), std::string::npos);
}

}  // namespace
}  // namespace corral::dbus
