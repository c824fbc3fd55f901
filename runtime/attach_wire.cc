#include "runtime/attach_wire.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/wire.h"

namespace corral::runtime {

namespace {

// Layout: u32 version, flags, uid, gid; with kHasCapabilities a u32 count and that many u32s;
// then cwd (NUL-terminated), and the command and the environment, each a u32 count and
// that many NUL-terminated strings. Nothing after.
constexpr uint32_t kVersion = 1;
constexpr uint32_t kControllingTty = 1 << 0;
constexpr uint32_t kAllocatePty = 1 << 1;
constexpr uint32_t kSeccomp = 1 << 2;
constexpr uint32_t kNoNewPrivs = 1 << 3;
constexpr uint32_t kHasCapabilities = 1 << 4;
constexpr uint32_t kJoinV1Cgroups = 1 << 5;
constexpr uint32_t kKnownFlags = (1 << 6) - 1;
constexpr uint32_t kMaxCapabilities = 64;

using wire::HasNul;
using wire::PutString;
using wire::PutStrings;
using wire::PutU32;
using Reader = wire::Reader;

}  // namespace

absl::StatusOr<std::string> EncodeAttachSpec(const AttachSpec& spec) {
  if (spec.seccomp_program != nullptr) {
    return absl::InvalidArgumentError("attach request: a caller-built seccomp program cannot be sent");
  }
  if (spec.capabilities && spec.capabilities->size() > kMaxCapabilities) {
    return absl::InvalidArgumentError("attach request: too many capabilities");
  }
  for (const std::vector<std::string>* list : {&spec.command, &spec.env}) {
    for (const std::string& s : *list) {
      if (HasNul(s)) return absl::InvalidArgumentError("attach request: a string with a NUL byte");
    }
  }
  if (HasNul(spec.cwd)) return absl::InvalidArgumentError("attach request: a string with a NUL byte");
  uint32_t flags = (spec.controlling_tty ? kControllingTty : 0) | (spec.allocate_pty ? kAllocatePty : 0) |
                   (spec.seccomp ? kSeccomp : 0) | (spec.no_new_privs ? kNoNewPrivs : 0) |
                   (spec.capabilities ? kHasCapabilities : 0) | (spec.join_v1_cgroups ? kJoinV1Cgroups : 0);
  std::string out;
  PutU32(&out, kVersion);
  PutU32(&out, flags);
  PutU32(&out, spec.uid);
  PutU32(&out, spec.gid);
  if (spec.capabilities) {
    PutU32(&out, static_cast<uint32_t>(spec.capabilities->size()));
    for (int cap : *spec.capabilities) PutU32(&out, static_cast<uint32_t>(cap));
  }
  PutString(&out, spec.cwd);
  PutStrings(&out, spec.command);
  PutStrings(&out, spec.env);
  if (out.size() > kMaxAttachMessage) {
    return absl::ResourceExhaustedError(
        absl::StrCat("attach request: ", out.size(), " bytes, more than ", kMaxAttachMessage, " fit one message"));
  }
  return out;
}

absl::StatusOr<AttachSpec> DecodeAttachSpec(absl::string_view bytes) {
  auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("attach request: ", what));
  };
  if (bytes.size() > kMaxAttachMessage) return bad("too long");
  Reader in(bytes);
  uint32_t version = 0, flags = 0, uid = 0, gid = 0;
  if (!in.U32(&version) || version != kVersion) return bad("not version 1");
  if (!in.U32(&flags) || (flags & ~kKnownFlags) != 0) return bad("unknown flags");
  if (!in.U32(&uid) || !in.U32(&gid)) return bad("cut short");
  AttachSpec spec;
  spec.uid = uid;
  spec.gid = gid;
  spec.controlling_tty = flags & kControllingTty;
  spec.allocate_pty = flags & kAllocatePty;
  spec.seccomp = flags & kSeccomp;
  spec.no_new_privs = flags & kNoNewPrivs;
  spec.join_v1_cgroups = flags & kJoinV1Cgroups;
  if (flags & kHasCapabilities) {
    uint32_t count = 0;
    if (!in.U32(&count) || count > kMaxCapabilities) return bad("bad capability count");
    std::vector<int> caps(count);
    for (int& cap : caps) {
      uint32_t value = 0;
      if (!in.U32(&value) || value > 63) return bad("bad capability");
      cap = static_cast<int>(value);
    }
    spec.capabilities = std::move(caps);
  }
  if (!in.String(&spec.cwd)) return bad("no working directory");
  if (!in.Strings(&spec.command) || !in.Strings(&spec.env)) return bad("cut short");
  if (!in.done()) return bad("bytes after the end");
  if (spec.command.empty()) return bad("no command");
  return spec;
}

}  // namespace corral::runtime
