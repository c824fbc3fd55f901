#include "runtime/attach_wire.h"

#include <string>

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

AttachSpec Sample() {
  AttachSpec spec;
  spec.command = {"/bin/sh", "-c", "echo hi", ""};
  spec.env = {"A=1", "B="};
  spec.cwd = "/tmp";
  spec.uid = 1000;
  spec.gid = 1001;
  spec.controlling_tty = true;
  spec.seccomp = false;
  spec.capabilities = std::vector<int>{0, 21, 40};
  spec.stdin_fd = 7;  // fds do not travel
  return spec;
}

TEST(AttachWire, RoundTripKeepsEveryField) {
  absl::StatusOr<std::string> bytes = EncodeAttachSpec(Sample());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<AttachSpec> back = DecodeAttachSpec(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  AttachSpec want = Sample();
  EXPECT_EQ(back->command, want.command);
  EXPECT_EQ(back->env, want.env);
  EXPECT_EQ(back->cwd, want.cwd);
  EXPECT_EQ(back->uid, want.uid);
  EXPECT_EQ(back->gid, want.gid);
  EXPECT_TRUE(back->controlling_tty);
  EXPECT_FALSE(back->allocate_pty);
  EXPECT_FALSE(back->seccomp);
  EXPECT_TRUE(back->no_new_privs);
  EXPECT_TRUE(back->join_v1_cgroups);
  ASSERT_TRUE(back->capabilities.has_value());
  EXPECT_EQ(*back->capabilities, *want.capabilities);
  EXPECT_EQ(back->stdin_fd, -1);
  EXPECT_EQ(back->cgroup_fd, -1);
}

TEST(AttachWire, DefaultCapabilitiesStayUnset) {
  AttachSpec spec;
  spec.command = {"/bin/true"};
  absl::StatusOr<AttachSpec> back = DecodeAttachSpec(*EncodeAttachSpec(spec));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->capabilities.has_value());
  EXPECT_EQ(back->cwd, "/");
}

TEST(AttachWire, EveryCutOrPaddedMessageIsRefused) {
  std::string bytes = *EncodeAttachSpec(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeAttachSpec(bytes.substr(0, n)).ok()) << "cut to " << n;
  }
  EXPECT_FALSE(DecodeAttachSpec(bytes + "x").ok());
  EXPECT_FALSE(DecodeAttachSpec(bytes + std::string(1, '\0')).ok());
}

TEST(AttachWire, WhatCannotTravelIsAnError) {
  AttachSpec spec = Sample();
  spec.command.push_back(std::string("a\0b", 3));
  EXPECT_FALSE(EncodeAttachSpec(spec).ok());
  spec = Sample();
  spec.command.push_back(std::string(kMaxAttachMessage, 'x'));
  EXPECT_EQ(EncodeAttachSpec(spec).status().code(), absl::StatusCode::kResourceExhausted);
  spec = Sample();
  static const SeccompProgram* const kSome = reinterpret_cast<const SeccompProgram*>(&spec);
  spec.seccomp_program = kSome;
  EXPECT_FALSE(EncodeAttachSpec(spec).ok());
}

TEST(AttachWire, LiesInTheHeaderAreRefused) {
  std::string bytes = *EncodeAttachSpec(Sample());
  std::string wrong_version = bytes;
  wrong_version[0] = 2;
  EXPECT_FALSE(DecodeAttachSpec(wrong_version).ok());
  std::string unknown_flag = bytes;
  unknown_flag[7] = static_cast<char>(0x80);
  EXPECT_FALSE(DecodeAttachSpec(unknown_flag).ok());
  std::string big_capability = bytes;
  big_capability[20] = 64;  // the first capability, after version, flags, uid, gid, count
  EXPECT_FALSE(DecodeAttachSpec(big_capability).ok());
  AttachSpec none;
  none.command = {"x"};
  std::string no_command = *EncodeAttachSpec(none);
  no_command[no_command.size() - 4 - 2 - 4] = 0;  // the command's count (before "x\0" and env's count)
  EXPECT_FALSE(DecodeAttachSpec(no_command).ok());
}

}  // namespace
}  // namespace corral::runtime
