// The seccomp cache: a profile compiled once is read back; another profile's file under the
// same name (a hash collision, or a stale entry) is a miss and never that profile's program.
#include "runtime/oci/seccomp_cache.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/files.h"
#include "gtest/gtest.h"
#include "runtime/oci/launch.h"

namespace corral::runtime::oci {
namespace {

Seccomp Profile(const std::string& syscall) {
  Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  SeccompRule rule;
  rule.names = {syscall};
  rule.action = "SCMP_ACT_ERRNO";
  s.syscalls = {rule};
  s.source = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\",\"names\":[\"" + syscall + "\"]}]}";
  return s;
}

bool Same(const SeccompProgram& a, const SeccompProgram& b) {
  return a.instructions.size() == b.instructions.size() &&
         std::memcmp(a.instructions.data(), b.instructions.data(), a.instructions.size() * sizeof(sock_filter)) == 0;
}

class SeccompCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/corral-seccomp-cache-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }
  std::string dir_;
};

TEST_F(SeccompCacheTest, ASecondUseReadsTheCompiledProgramBack) {
  Seccomp profile = Profile("mkdir");
  bool hit = true;
  absl::StatusOr<SeccompProgram> first = CachedOciSeccomp(profile, dir_ + "/cache", &hit);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(hit);
  EXPECT_TRUE(ReadFile(dir_ + "/cache/" + SeccompCacheName(profile)).ok());
  absl::StatusOr<SeccompProgram> second = CachedOciSeccomp(profile, dir_ + "/cache", &hit);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(hit);
  EXPECT_TRUE(Same(*first, *second));
  absl::StatusOr<SeccompProgram> compiled = CompileOciSeccomp(profile);
  ASSERT_TRUE(compiled.ok());
  EXPECT_TRUE(Same(*compiled, *second));
}

TEST_F(SeccompCacheTest, AnotherProfilesFileUnderTheSameNameIsAMiss) {
  Seccomp a = Profile("mkdir"), b = Profile("rmdir");
  ASSERT_NE(SeccompCacheName(a), SeccompCacheName(b));
  ASSERT_TRUE(CachedOciSeccomp(a, dir_).ok());
  // What a collision would look like: a's entry under b's name.
  absl::StatusOr<std::string> a_file = ReadFile(dir_ + "/" + SeccompCacheName(a));
  ASSERT_TRUE(a_file.ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/" + SeccompCacheName(b), *a_file).ok());
  bool hit = true;
  absl::StatusOr<SeccompProgram> got = CachedOciSeccomp(b, dir_, &hit);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(hit);
  absl::StatusOr<SeccompProgram> b_compiled = CompileOciSeccomp(b);
  absl::StatusOr<SeccompProgram> a_compiled = CompileOciSeccomp(a);
  ASSERT_TRUE(b_compiled.ok() && a_compiled.ok());
  EXPECT_TRUE(Same(*got, *b_compiled));
  EXPECT_FALSE(Same(*got, *a_compiled));
  // And the entry is b's own now.
  EXPECT_TRUE(CachedOciSeccomp(b, dir_, &hit).ok());
  EXPECT_TRUE(hit);
}

TEST_F(SeccompCacheTest, ATruncatedEntryIsAMissAndABadProfileStillFails) {
  Seccomp a = Profile("mkdir");
  ASSERT_TRUE(CachedOciSeccomp(a, dir_).ok());
  std::string path = dir_ + "/" + SeccompCacheName(a);
  absl::StatusOr<std::string> file = ReadFile(path);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(WriteFileAtomically(path, file->substr(0, file->size() - 3)).ok());
  bool hit = true;
  EXPECT_TRUE(CachedOciSeccomp(a, dir_, &hit).ok());
  EXPECT_FALSE(hit);
  Seccomp bad = Profile("mkdir");
  bad.default_action = "SCMP_ACT_NOPE";
  bad.source += " ";
  EXPECT_FALSE(CachedOciSeccomp(bad, dir_).ok());
}

}  // namespace
}  // namespace corral::runtime::oci
