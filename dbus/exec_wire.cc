#include "dbus/exec_wire.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/wire.h"

namespace corral::dbus {

namespace {

// Request: u32 version, u32 flags; name, user, cwd (NUL-terminated); the command and the
// environment, each a u32 count and that many NUL-terminated strings. Nothing after.
// Reply: u32 version, u32 kind; for kExited a u32 exit status, for kError the error's name
// and message (NUL-terminated). Nothing after.
constexpr uint32_t kVersion = 1;
constexpr uint32_t kTty = 1 << 0;
constexpr uint32_t kPtyReceiver = 1 << 1;
constexpr uint32_t kKnownFlags = kTty | kPtyReceiver;
constexpr uint32_t kExited = 0;
constexpr uint32_t kError = 1;

absl::Status Bad(absl::string_view what, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", problem));
}

}  // namespace

absl::StatusOr<std::string> EncodeExecRequest(const ExecRequest& request) {
  if (request.command.empty()) return Bad("exec request", "no command");
  if (wire::HasNul(request.name) || wire::HasNul(request.user) || wire::HasNul(request.cwd) ||
      wire::AnyHasNul(request.command) || wire::AnyHasNul(request.env)) {
    return Bad("exec request", "a string with a NUL byte");
  }
  std::string out;
  wire::PutU32(&out, kVersion);
  wire::PutU32(&out, (request.tty ? kTty : 0) | (request.pty_receiver ? kPtyReceiver : 0));
  wire::PutString(&out, request.name);
  wire::PutString(&out, request.user);
  wire::PutString(&out, request.cwd);
  wire::PutStrings(&out, request.command);
  wire::PutStrings(&out, request.env);
  if (out.size() > kMaxExecMessage) {
    return absl::ResourceExhaustedError(
        absl::StrCat("exec request: ", out.size(), " bytes, more than the ", kMaxExecMessage, " one message holds"));
  }
  return out;
}

absl::StatusOr<ExecRequest> DecodeExecRequest(absl::string_view bytes) {
  constexpr absl::string_view kWhat = "exec request";
  if (bytes.size() > kMaxExecMessage) return Bad(kWhat, "too long");
  wire::Reader in(bytes);
  uint32_t version = 0, flags = 0;
  if (!in.U32(&version) || version != kVersion) return Bad(kWhat, "not version 1");
  if (!in.U32(&flags) || (flags & ~kKnownFlags) != 0) return Bad(kWhat, "unknown flags");
  ExecRequest request;
  request.tty = flags & kTty;
  request.pty_receiver = flags & kPtyReceiver;
  if (!in.String(&request.name) || !in.String(&request.user) || !in.String(&request.cwd) ||
      !in.Strings(&request.command) || !in.Strings(&request.env)) {
    return Bad(kWhat, "cut short");
  }
  if (!in.done()) return Bad(kWhat, "bytes after the end");
  if (request.command.empty()) return Bad(kWhat, "no command");
  return request;
}

std::string EncodeExecReply(const ExecReply& reply) {
  std::string out;
  wire::PutU32(&out, kVersion);
  wire::PutU32(&out, reply.exited ? kExited : kError);
  if (reply.exited) {
    wire::PutU32(&out, static_cast<uint32_t>(reply.exit_status));
    return out;
  }
  // The texts are ours, never with a NUL; one that had one is cut there rather than misread.
  wire::PutString(&out, reply.error_name.substr(0, reply.error_name.find('\0')));
  wire::PutString(&out, reply.message.substr(0, reply.message.find('\0')));
  return out;
}

absl::StatusOr<ExecReply> DecodeExecReply(absl::string_view bytes) {
  constexpr absl::string_view kWhat = "exec reply";
  if (bytes.size() > kMaxExecMessage) return Bad(kWhat, "too long");
  wire::Reader in(bytes);
  uint32_t version = 0, kind = 0;
  if (!in.U32(&version) || version != kVersion) return Bad(kWhat, "not version 1");
  if (!in.U32(&kind) || (kind != kExited && kind != kError)) return Bad(kWhat, "unknown kind");
  ExecReply reply;
  reply.exited = kind == kExited;
  if (reply.exited) {
    uint32_t status = 0;
    if (!in.U32(&status)) return Bad(kWhat, "cut short");
    reply.exit_status = static_cast<int>(status);
  } else if (!in.String(&reply.error_name) || !in.String(&reply.message)) {
    return Bad(kWhat, "cut short");
  }
  if (!in.done()) return Bad(kWhat, "bytes after the end");
  return reply;
}

}  // namespace corral::dbus
