#include "runtime/spec.h"

#include <sched.h>

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

ContainerSpec ValidSpec() {
  ContainerSpec spec;
  spec.name = "web";
  spec.rootfs = "/";
  spec.command = {"/bin/true"};
  return spec;
}

std::string ErrorOf(const ContainerSpec& spec) { return std::string(ValidateSpec(spec).message()); }

TEST(SpecTest, ValidSpecPasses) { EXPECT_TRUE(ValidateSpec(ValidSpec()).ok()); }

TEST(SpecTest, ContainerNames) {
  EXPECT_TRUE(ValidateContainerName(std::string(64, 'a')).ok());
  for (const char* ok : {"a", "web-1", "db.primary", "x_y", "9lives"}) {
    EXPECT_TRUE(ValidateContainerName(ok).ok()) << ok;
  }
  for (const char* bad : {"", "-web", ".hidden", "_x", "with space", "a/b", "ünï", "semi;colon"}) {
    EXPECT_FALSE(ValidateContainerName(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateContainerName(std::string(65, 'a')).ok());
  EXPECT_NE(ValidateContainerName("a/b").message().find("'/'"), absl::string_view::npos);
}

TEST(SpecTest, Hostnames) {
  EXPECT_TRUE(ValidateHostname("web").ok());
  EXPECT_TRUE(ValidateHostname("web-1.example.org").ok());
  for (const char* bad : {"", "-a", "a-", "a..b", "a_b", "a b", ".a"}) {
    EXPECT_FALSE(ValidateHostname(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateHostname(std::string(65, 'a')).ok());
}

TEST(SpecTest, EachBadFieldIsNamed) {
  ContainerSpec spec = ValidSpec();
  spec.rootfs = "relative/path";
  EXPECT_NE(ErrorOf(spec).find("spec.rootfs"), std::string::npos);
  spec = ValidSpec();
  spec.rootfs = "/nonexistent-corral-rootfs";
  EXPECT_NE(ErrorOf(spec).find("does not exist"), std::string::npos);
  spec = ValidSpec();
  spec.rootfs = "/etc/hostname";
  EXPECT_NE(ErrorOf(spec).find("not a directory"), std::string::npos);
  spec = ValidSpec();
  spec.hostname = "bad host";
  EXPECT_NE(ErrorOf(spec).find("spec.hostname"), std::string::npos);
  spec = ValidSpec();
  spec.command.clear();
  EXPECT_NE(ErrorOf(spec).find("spec.command"), std::string::npos);
  spec = ValidSpec();
  spec.env = {"NOEQUALS"};
  EXPECT_NE(ErrorOf(spec).find("spec.env"), std::string::npos);
  spec = ValidSpec();
  spec.cwd = "tmp";
  EXPECT_NE(ErrorOf(spec).find("spec.cwd"), std::string::npos);
  spec = ValidSpec();
  spec.capabilities = std::vector<int>{0, 0};
  EXPECT_NE(ErrorOf(spec).find("spec.capabilities"), std::string::npos);
  spec = ValidSpec();
  spec.capabilities = std::vector<int>{99};
  EXPECT_NE(ErrorOf(spec).find("unknown capability"), std::string::npos);
  spec = ValidSpec();
  spec.namespaces &= ~static_cast<uint64_t>(CLONE_NEWNS);
  EXPECT_NE(ErrorOf(spec).find("spec.namespaces"), std::string::npos);
  spec = ValidSpec();
  spec.namespaces |= CLONE_NEWUSER;
  EXPECT_NE(ErrorOf(spec).find("spec.uid_map"), std::string::npos);
  spec.uid_map = spec.gid_map = {{0, 100000, 0}};
  EXPECT_NE(ErrorOf(spec).find("count 0"), std::string::npos);
  spec = ValidSpec();
  spec.uid_map = {{0, 100000, 10}};
  EXPECT_NE(ErrorOf(spec).find("need a user namespace"), std::string::npos);
  spec = ValidSpec();
  spec.idmap_rootfs = true;
  EXPECT_NE(ErrorOf(spec).find("spec.idmap_rootfs"), std::string::npos);
  spec = ValidSpec();
  spec.mounts.push_back(MountSpec::Bind("/tmp", "relative", ReadOnly::kNo));
  EXPECT_NE(ErrorOf(spec).find("spec.mounts"), std::string::npos);
  spec = ValidSpec();
  spec.mounts.push_back(MountSpec::Bind("/tmp", "/a/../../b", ReadOnly::kNo));
  EXPECT_NE(ErrorOf(spec).find(".."), std::string::npos);
  spec = ValidSpec();
  spec.join_netns_fd = 3;
  EXPECT_NE(ErrorOf(spec).find("spec.join_netns_fd"), std::string::npos);
}

TEST(SpecTest, BootNeedsNoCommand) {
  ContainerSpec spec = ValidSpec();
  spec.command.clear();
  spec.init = InitMode::kBoot;
  EXPECT_TRUE(ValidateSpec(spec).ok());
}

TEST(SpecTest, ByteSizes) {
  uint64_t bytes = 0;
  ASSERT_TRUE(ParseByteSize("64M", &bytes).ok());
  EXPECT_EQ(bytes, 64u << 20);
  ASSERT_TRUE(ParseByteSize("1g", &bytes).ok());
  EXPECT_EQ(bytes, 1u << 30);
  ASSERT_TRUE(ParseByteSize("4096", &bytes).ok());
  EXPECT_EQ(bytes, 4096u);
  for (const char* bad : {"", "M", "-1", "1.5G", "12X", "99999999999999999999"}) {
    EXPECT_FALSE(ParseByteSize(bad, &bytes).ok()) << bad;
  }
  EXPECT_FALSE(ParseByteSize("20000000T", &bytes).ok());
}

// Every valid container name gives a valid host name (issue 13: "a_b", 64 characters, "x.."
// never started, their default host name refused at start).
TEST(SpecTest, HostnameFromNameIsValidForEveryValidName) {
  EXPECT_EQ(HostnameFromName("a_b"), "a-b");
  EXPECT_EQ(HostnameFromName("x.."), "x");
  EXPECT_EQ(HostnameFromName("web"), "web");
  EXPECT_EQ(HostnameFromName("a.b_c"), "a.b-c");
  EXPECT_EQ(HostnameFromName("_"), "corral");
  EXPECT_EQ(HostnameFromName(""), "corral");
  EXPECT_EQ(HostnameFromName("a-_"), "a");
  std::string long_name(64, 'a');
  EXPECT_EQ(HostnameFromName(long_name), std::string(63, 'a'));
  // Exhaustive over short names of the name alphabet, and some long ones.
  const std::string alphabet = "a0_.-";
  std::vector<std::string> names = {""};
  for (int length = 1; length <= 5; ++length) {
    std::vector<std::string> next;
    for (const std::string& prefix : names) {
      for (char c : alphabet) next.push_back(prefix + c);
    }
    names = std::move(next);
    for (const std::string& name : names) {
      if (!ValidateContainerName(name).ok()) continue;
      std::string host = HostnameFromName(name);
      EXPECT_TRUE(ValidateHostname(host).ok()) << name << " -> " << host << ": " << ValidateHostname(host);
      std::string longer = name + std::string(64 - name.size(), '_');
      if (ValidateContainerName(longer).ok()) {
        EXPECT_TRUE(ValidateHostname(HostnameFromName(longer)).ok()) << longer << " -> " << HostnameFromName(longer);
      }
    }
  }
}

}  // namespace
}  // namespace corral::runtime
