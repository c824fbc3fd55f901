#include "dbus/exec_wire.h"

#include <string>

#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

ExecRequest Sample() {
  ExecRequest request;
  request.name = "web";
  request.command = {"/bin/sh", "-c", "echo hi"};
  request.env = {"A=1", "B="};
  request.user = "1000:100";
  request.cwd = "/tmp";
  request.tty = true;
  request.pty_receiver = true;
  return request;
}

TEST(ExecWireTest, RequestRoundTrips) {
  absl::StatusOr<std::string> bytes = EncodeExecRequest(Sample());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<ExecRequest> back = DecodeExecRequest(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, "web");
  EXPECT_EQ(back->command, Sample().command);
  EXPECT_EQ(back->env, Sample().env);
  EXPECT_EQ(back->user, "1000:100");
  EXPECT_EQ(back->cwd, "/tmp");
  EXPECT_TRUE(back->tty);
  EXPECT_TRUE(back->pty_receiver);
}

TEST(ExecWireTest, EveryCutOrPaddedRequestIsRefused) {
  std::string bytes = *EncodeExecRequest(Sample());
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(DecodeExecRequest(bytes.substr(0, size)).ok()) << "cut at " << size;
  }
  EXPECT_FALSE(DecodeExecRequest(bytes + '\0').ok());
}

TEST(ExecWireTest, UnknownVersionFlagsAndEmptyCommandsAreRefused) {
  std::string bytes = *EncodeExecRequest(Sample());
  std::string other_version = bytes;
  other_version[0] = 2;
  EXPECT_FALSE(DecodeExecRequest(other_version).ok());
  std::string other_flags = bytes;
  other_flags[4] = 0x7f;
  EXPECT_FALSE(DecodeExecRequest(other_flags).ok());
  ExecRequest none = Sample();
  none.command.clear();
  EXPECT_FALSE(EncodeExecRequest(none).ok());
  ExecRequest nul = Sample();
  nul.command[0] = std::string("a\0b", 3);
  EXPECT_FALSE(EncodeExecRequest(nul).ok());
}

TEST(ExecWireTest, RepliesRoundTrip) {
  ExecReply exited;
  exited.exited = true;
  exited.exit_status = 137;
  absl::StatusOr<ExecReply> back = DecodeExecReply(EncodeExecReply(exited));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->exited);
  EXPECT_EQ(back->exit_status, 137);

  ExecReply failed;
  failed.error_name = "org.corral1.Error.NotRunning";
  failed.message = "container web is not running";
  back = DecodeExecReply(EncodeExecReply(failed));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->exited);
  EXPECT_EQ(back->error_name, failed.error_name);
  EXPECT_EQ(back->message, failed.message);
  std::string bytes = EncodeExecReply(failed);
  for (size_t size = 0; size < bytes.size(); ++size) EXPECT_FALSE(DecodeExecReply(bytes.substr(0, size)).ok());
}

}  // namespace
}  // namespace corral::dbus
