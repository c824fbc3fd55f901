#include "runtime/cgroup/device_filter.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral::runtime {

namespace {

bool Matches(const DeviceAccessRule& rule, char type, uint32_t major, uint32_t minor) {
  return (rule.type == 'a' || rule.type == type) && (rule.major < 0 || rule.major == major) &&
         (rule.minor < 0 || rule.minor == minor);
}

constexpr struct {
  char letter;
  int32_t bit;
} kAccess[] = {{'m', BPF_DEVCG_ACC_MKNOD}, {'r', BPF_DEVCG_ACC_READ}, {'w', BPF_DEVCG_ACC_WRITE}};

// A tiny assembler: jumps to labels fixed up at the end.
class Assembler {
 public:
  int NewLabel() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[label] = static_cast<int>(insns_.size()); }
  void Emit(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    struct bpf_insn insn = {};
    insn.code = code;
    insn.dst_reg = dst & 0xf;
    insn.src_reg = src & 0xf;
    insn.off = off;
    insn.imm = imm;
    insns_.push_back(insn);
  }
  void Jump(uint8_t code, uint8_t dst, int32_t imm, int label) {
    fixups_.push_back({static_cast<int>(insns_.size()), label});
    Emit(code, dst, 0, 0, imm);
  }
  void Return(int32_t value) {
    Emit(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, value);
    Emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  std::vector<struct bpf_insn> Finish() {
    for (const auto& [at, label] : fixups_) insns_[at].off = static_cast<int16_t>(labels_[label] - at - 1);
    return std::move(insns_);
  }

 private:
  std::vector<struct bpf_insn> insns_;
  std::vector<int> labels_;
  std::vector<std::pair<int, int>> fixups_;
};

long Bpf(int cmd, union bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

bool DeviceAccessAllowed(const std::vector<DeviceAccessRule>& rules, char type, uint32_t major, uint32_t minor,
                         const std::string& access) {
  for (char want : access) {
    bool allowed = false;
    for (auto rule = rules.rbegin(); rule != rules.rend(); ++rule) {
      if (rule->access.find(want) == std::string::npos || !Matches(*rule, type, major, minor)) continue;
      allowed = rule->allow;
      break;
    }
    if (!allowed) return false;
  }
  return true;
}

std::vector<struct bpf_insn> CompileDeviceFilter(const std::vector<DeviceAccessRule>& rules) {
  // r2 = access_type; r3 = device type (low 16 bits); r4 = access (high 16); r5 = major; r6 = minor.
  Assembler a;
  a.Emit(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
  a.Emit(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
  a.Emit(BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff);
  a.Emit(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0);
  a.Emit(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_4, 0, 0, 16);
  a.Emit(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
  a.Emit(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_6, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
  // One block per access bit the request has: the last rule naming that access and matching
  // the device decides it (rules walked backwards, the first match wins); none: deny.
  for (const auto& [letter, bit] : kAccess) {
    int next_block = a.NewLabel();
    a.Emit(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_7, BPF_REG_4, 0, 0);
    a.Emit(BPF_ALU | BPF_AND | BPF_K, BPF_REG_7, 0, 0, bit);
    a.Jump(BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_7, 0, next_block);
    bool decided = false;  // a rule matching every device ends the block (the verifier refuses dead code)
    for (auto rule = rules.rbegin(); rule != rules.rend() && !decided; ++rule) {
      if (rule->access.find(letter) == std::string::npos) continue;
      decided = rule->type == 'a' && rule->major < 0 && rule->minor < 0;
      int next_rule = a.NewLabel();
      if (rule->type != 'a') {
        a.Jump(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_3, rule->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR,
               next_rule);
      }
      if (rule->major >= 0) a.Jump(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, static_cast<int32_t>(rule->major), next_rule);
      if (rule->minor >= 0) a.Jump(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_6, static_cast<int32_t>(rule->minor), next_rule);
      if (rule->allow) {
        a.Jump(BPF_JMP | BPF_JA, 0, 0, next_block);
      } else {
        a.Return(0);
      }
      a.Bind(next_rule);
    }
    if (!decided) a.Return(0);
    a.Bind(next_block);
  }
  a.Return(1);
  return a.Finish();
}

absl::Status AttachDeviceFilter(int cgroup_fd, const std::vector<DeviceAccessRule>& rules) {
  std::vector<struct bpf_insn> insns = CompileDeviceFilter(rules);
  // The programs attached now, detached once ours is in place.
  uint32_t old_ids[64] = {};
  union bpf_attr query = {};
  query.query.target_fd = static_cast<uint32_t>(cgroup_fd);
  query.query.attach_type = BPF_CGROUP_DEVICE;
  query.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
  query.query.prog_cnt = 64;
  uint32_t old_count = Bpf(BPF_PROG_QUERY, &query) == 0 ? query.query.prog_cnt : 0;

  static const char kLicense[] = "Apache";
  union bpf_attr load = {};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(insns.data());
  load.insn_cnt = static_cast<uint32_t>(insns.size());
  load.license = reinterpret_cast<uint64_t>(kLicense);
  std::strncpy(load.prog_name, "corral_devices", sizeof(load.prog_name) - 1);
  UniqueFd prog(static_cast<int>(Bpf(BPF_PROG_LOAD, &load)));
  if (!prog) {
    // Again with the verifier's log (a log that overflows its buffer fails the load with
    // ENOSPC, so only now): its last line says why.
    int err = errno;
    std::string log(1 << 20, '\0');
    load.log_buf = reinterpret_cast<uint64_t>(log.data());
    load.log_size = static_cast<uint32_t>(log.size());
    load.log_level = 1;
    UniqueFd again(static_cast<int>(Bpf(BPF_PROG_LOAD, &load)));
    log.resize(std::strlen(log.c_str()));
    size_t last = log.find_last_of('\n', log.size() > 1 ? log.size() - 2 : 0);
    std::string why = last == std::string::npos ? log : log.substr(last + 1);
    return ErrnoError(err, absl::StrCat("device filter: bpf(BPF_PROG_LOAD) of ", insns.size(), " instructions",
                                        why.empty() ? "" : absl::StrCat(" (verifier: ", why, ")")));
  }
  union bpf_attr attach = {};
  attach.target_fd = static_cast<uint32_t>(cgroup_fd);
  attach.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &attach) != 0) return ErrnoError("device filter: bpf(BPF_PROG_ATTACH) to the container's cgroup");
  for (uint32_t i = 0; i < old_count && i < 64; ++i) {
    union bpf_attr by_id = {};
    by_id.prog_id = old_ids[i];
    UniqueFd old(static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &by_id)));
    if (!old) continue;
    union bpf_attr detach = {};
    detach.target_fd = static_cast<uint32_t>(cgroup_fd);
    detach.attach_bpf_fd = static_cast<uint32_t>(old.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (Bpf(BPF_PROG_DETACH, &detach) != 0) return ErrnoError("device filter: bpf(BPF_PROG_DETACH) of the previous filter");
  }
  return absl::OkStatus();
}

absl::Status ApplyV1DeviceRules(const std::string& dir, const std::vector<DeviceAccessRule>& rules) {
  RETURN_IF_ERROR(WriteExistingFile(dir + "/devices.deny", "a"));
  for (const DeviceAccessRule& rule : rules) {
    std::string line = absl::StrCat(std::string(1, rule.type), " ", rule.major < 0 ? "*" : absl::StrCat(rule.major), ":",
                                    rule.minor < 0 ? "*" : absl::StrCat(rule.minor), " ", rule.access);
    RETURN_IF_ERROR(WriteExistingFile(dir + (rule.allow ? "/devices.allow" : "/devices.deny"), line));
  }
  return absl::OkStatus();
}

}  // namespace corral::runtime
