// The device filter compiler against its C++ reference: the emitted BPF program, run by a
// small interpreter of the instructions it uses, decides every request as DeviceAccessAllowed.
#include "runtime/cgroup/device_filter.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

// Runs `prog` on one request; fails the test on an instruction it does not know.
int Interpret(const std::vector<struct bpf_insn>& prog, char type, uint32_t major, uint32_t minor, const std::string& access) {
  uint32_t acc = 0;
  for (char c : access) acc |= c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  struct bpf_cgroup_dev_ctx ctx = {(acc << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), major, minor};
  uint64_t r[11] = {};
  size_t pc = 0;
  for (int steps = 0; steps < 100000 && pc < prog.size(); ++steps) {
    const struct bpf_insn& i = prog[pc++];
    switch (i.code) {
      case BPF_LDX | BPF_W | BPF_MEM:
        EXPECT_EQ(i.src_reg, BPF_REG_1);
        r[i.dst_reg] = *reinterpret_cast<const uint32_t*>(reinterpret_cast<const char*>(&ctx) + i.off);
        break;
      case BPF_ALU | BPF_MOV | BPF_X: r[i.dst_reg] = static_cast<uint32_t>(r[i.src_reg]); break;
      case BPF_ALU | BPF_AND | BPF_K: r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg]) & static_cast<uint32_t>(i.imm); break;
      case BPF_ALU | BPF_RSH | BPF_K: r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg]) >> i.imm; break;
      case BPF_ALU64 | BPF_MOV | BPF_K: r[i.dst_reg] = static_cast<uint64_t>(static_cast<int64_t>(i.imm)); break;
      case BPF_JMP32 | BPF_JEQ | BPF_K:
        if (static_cast<uint32_t>(r[i.dst_reg]) == static_cast<uint32_t>(i.imm)) pc += i.off;
        break;
      case BPF_JMP32 | BPF_JNE | BPF_K:
        if (static_cast<uint32_t>(r[i.dst_reg]) != static_cast<uint32_t>(i.imm)) pc += i.off;
        break;
      case BPF_JMP | BPF_JA: pc += i.off; break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(r[0]);
      default: ADD_FAILURE() << "unknown instruction " << static_cast<int>(i.code); return -1;
    }
  }
  ADD_FAILURE() << "ran off the program";
  return -1;
}

void ExpectSameAsReference(const std::vector<DeviceAccessRule>& rules) {
  std::vector<struct bpf_insn> prog = CompileDeviceFilter(rules);
  for (char type : {'c', 'b'}) {
    for (uint32_t major : {1u, 5u, 10u, 136u}) {
      for (uint32_t minor : {0u, 1u, 3u, 11u, 237u}) {
        for (const char* access : {"r", "w", "m", "rw", "rm", "wm", "rwm"}) {
          EXPECT_EQ(Interpret(prog, type, major, minor, access) == 1, DeviceAccessAllowed(rules, type, major, minor, access))
              << type << " " << major << ":" << minor << " " << access;
        }
      }
    }
  }
}

TEST(DeviceFilterTest, NoRulesDeniesEverything) {
  EXPECT_FALSE(DeviceAccessAllowed({}, 'c', 1, 3, "r"));
  EXPECT_EQ(Interpret(CompileDeviceFilter({}), 'c', 1, 3, "r"), 0);
}

TEST(DeviceFilterTest, TheLastMatchingRuleDecidesEachAccess) {
  std::vector<DeviceAccessRule> rules = {
      {false, 'a', -1, -1, "rwm"},  // runc spec's default: deny all
      {true, 'c', 1, 3, "rwm"},     // /dev/null
      {true, 'c', 1, 11, "m"},      // kmsg: mknod only
      {true, 'c', 136, -1, "rw"},   // pts
      {false, 'c', 1, 3, "w"},      // null read-only after all
  };
  EXPECT_TRUE(DeviceAccessAllowed(rules, 'c', 1, 3, "r"));
  EXPECT_FALSE(DeviceAccessAllowed(rules, 'c', 1, 3, "rw"));
  EXPECT_TRUE(DeviceAccessAllowed(rules, 'c', 1, 11, "m"));
  EXPECT_FALSE(DeviceAccessAllowed(rules, 'c', 1, 11, "r"));
  EXPECT_TRUE(DeviceAccessAllowed(rules, 'c', 136, 5, "rw"));
  EXPECT_FALSE(DeviceAccessAllowed(rules, 'b', 136, 5, "r"));
  EXPECT_FALSE(DeviceAccessAllowed(rules, 'c', 1, 1, "r"));
  ExpectSameAsReference(rules);
}

TEST(DeviceFilterTest, AllowAllAndPartialRulesMatchTheReference) {
  ExpectSameAsReference({{true, 'a', -1, -1, "rwm"}});
  ExpectSameAsReference({{true, 'a', -1, -1, "rwm"}, {false, 'b', -1, -1, "w"}, {false, 'c', 10, 237, "rwm"}});
  ExpectSameAsReference({{true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"}, {true, 'c', 1, -1, "r"}, {true, 'c', 1, 3, "w"}});
}

TEST(DeviceFilterTest, TheKernelLoadsTheProgram) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  // Loading only (no cgroup here to attach to): the verifier accepts what the compiler emits.
  for (const std::vector<DeviceAccessRule>& rules : std::vector<std::vector<DeviceAccessRule>>{
           {},
           {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}, {true, 'c', 136, -1, "rw"}},
           {{true, 'a', -1, -1, "rwm"}},
           {{true, 'a', -1, -1, "rwm"}, {false, 'a', -1, -1, "r"}, {true, 'b', 8, 0, "m"}},
       }) {
  std::vector<struct bpf_insn> insns = CompileDeviceFilter(rules);
  static const char kLicense[] = "Apache";
  union bpf_attr load = {};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(insns.data());
  load.insn_cnt = static_cast<uint32_t>(insns.size());
  load.license = reinterpret_cast<uint64_t>(kLicense);
  static char log[65536];
  load.log_buf = reinterpret_cast<uint64_t>(log);
  load.log_size = sizeof(log);
  load.log_level = 1;
  int fd = static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load)));
  ASSERT_GE(fd, 0) << "bpf(BPF_PROG_LOAD): " << std::strerror(errno) << "\n" << log;
  ::close(fd);
  }
}

}  // namespace
}  // namespace corral::runtime
