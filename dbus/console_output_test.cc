// ConsoleOutput: what a writer puts in the pipe comes out whole, in order, in large chunks;
// an empty pipe does not block the reader; the end of every writer closes the read end.
#include "dbus/console_output.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

TEST(ConsoleOutputTest, ReadsWhatIsThereWithoutBlockingAndSeesTheEnd) {
  absl::StatusOr<ConsoleOutput> out = ConsoleOutput::Open();
  ASSERT_TRUE(out.ok()) << out.status();
  std::string got;
  auto collect = [&](absl::string_view data) { got.append(data.data(), data.size()); };
  out->ReadAvailable(collect);  // nothing yet: returns at once
  EXPECT_TRUE(got.empty());
  EXPECT_GE(out->fd(), 0);
  std::string sent;
  for (int i = 0; i < 5000; ++i) sent += "line " + std::to_string(i) + "\n";
  ASSERT_EQ(::write(out->child_end(), sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
  out->ReadAvailable(collect);
  EXPECT_EQ(got, sent);
  EXPECT_GE(out->fd(), 0);  // the writer is still there
  out->CloseChildEnd();
  out->ReadAvailable(collect);
  EXPECT_EQ(out->fd(), -1);
  EXPECT_EQ(got, sent);
}

TEST(ConsoleOutputTest, StopsAtTheByteBudget) {
  absl::StatusOr<ConsoleOutput> out = ConsoleOutput::Open();
  ASSERT_TRUE(out.ok()) << out.status();
  std::string block(ConsoleOutput::kChunkBytes, 'x');
  ASSERT_EQ(::write(out->child_end(), block.data(), block.size()), static_cast<ssize_t>(block.size()));
  ASSERT_EQ(::write(out->child_end(), block.data(), 10), 10);
  size_t got = 0;
  out->ReadAvailable([&](absl::string_view data) { got += data.size(); }, 1);
  EXPECT_EQ(got, ConsoleOutput::kChunkBytes);  // one chunk, then the budget is spent
  out->ReadAvailable([&](absl::string_view data) { got += data.size(); });
  EXPECT_EQ(got, ConsoleOutput::kChunkBytes + 10);
}

}  // namespace
}  // namespace corral::dbus
