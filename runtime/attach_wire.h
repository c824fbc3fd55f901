// An AttachSpec as one message, for asking another process to start the attach (corrald asks
// a container's supervisor, which sits in the container's cgroups): every field but the fds,
// which travel beside it (SCM_RIGHTS), and a caller-built seccomp program, which cannot.
#ifndef CORRAL_RUNTIME_ATTACH_WIRE_H_
#define CORRAL_RUNTIME_ATTACH_WIRE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/attach.h"

namespace corral::runtime {

// The largest message Encode makes: within a SOCK_SEQPACKET socket's default buffer.
constexpr size_t kMaxAttachMessage = 64 * 1024;

// The spec as bytes; an error for what cannot travel (a seccomp_program, more than
// kMaxAttachMessage). The fd fields and cgroup_fd are not part of it.
absl::StatusOr<std::string> EncodeAttachSpec(const AttachSpec& spec);

// The spec back from Encode's bytes; fds -1. Anything else (cut, padded, a wrong version,
// strings with NULs, a count larger than the message) is an error, never a partial spec.
absl::StatusOr<AttachSpec> DecodeAttachSpec(absl::string_view bytes);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_ATTACH_WIRE_H_
