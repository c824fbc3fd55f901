#include "dbus/supervisor/exec.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/fd_passing.h"
#include "common/fd_receiving.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "runtime/attach_wire.h"
#include "runtime/child_error.h"

namespace corral::dbus {

namespace {

// A request carries stdin, stdout, stderr and the report socket, in that order.
constexpr size_t kRequestFds = 4;

}  // namespace

absl::StatusOr<std::unique_ptr<runtime::AttachInProgress>> RequestExecFromSupervisor(int requests,
                                                                                   const runtime::AttachSpec& spec) {
  if (requests < 0) return absl::UnavailableError("no request socket to this container's supervisor");
  ASSIGN_OR_RETURN(std::string message, runtime::EncodeAttachSpec(spec));
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return ErrnoError("socketpair for the attach report");
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  int fds[kRequestFds] = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd, theirs.get()};
  for (int fd : fds) {
    if (fd < 0) return absl::InvalidArgumentError("an exec through the supervisor needs all three stdio fds");
  }
  if (int err = SendWithFds(requests, message.data(), message.size(), fds, kRequestFds, MSG_DONTWAIT); err != 0) {
    return ErrnoError(err, "send the exec request to the supervisor");
  }
  return runtime::AttachInProgress::Expect(std::move(ours));
}

bool ServeExecRequest(int requests, int leader_pidfd, int payload_cgroup) {
  std::string buffer(runtime::kMaxAttachMessage + 1, '\0');
  std::vector<UniqueFd> fds;
  bool truncated = false;
  ssize_t n = ReceiveWithFds(requests, &buffer, &fds, &truncated);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;  // corrald closed its end (it restarted): no more requests
  // Only corrald holds the other end; still, a request that is not what corrald sends is
  // dropped whole (its report socket, if any, then says why).
  if (fds.size() != kRequestFds || truncated) {
    if (!fds.empty()) runtime::ReportChildError(fds.back().get(), "read the exec request", "", EPROTO);
    return true;
  }
  int report = fds[3].get();
  absl::StatusOr<runtime::AttachSpec> spec = runtime::DecodeAttachSpec(absl::string_view(buffer.data(), n));
  if (!spec.ok()) {
    runtime::ReportChildError(report, "decode the exec request", "", EPROTO);
    return true;
  }
  if (payload_cgroup < 0) {
    // Never start the command in our own leaf instead.
    runtime::ReportChildError(report, "open the container's payload cgroup", "", ENOENT);
    return true;
  }
  spec->stdin_fd = fds[0].get();
  spec->stdout_fd = fds[1].get();
  spec->stderr_fd = fds[2].get();
  spec->cgroup_fd = payload_cgroup;
  if (absl::Status forked = runtime::ForkAttachHelperForParent(leader_pidfd, *spec, report); !forked.ok()) {
    // The message names the step and errno; the record's own errno can only say "failed".
    runtime::ReportChildError(report, "start the exec in the supervisor", std::string(forked.message()).c_str(), EIO);
  }
  return true;  // our copies of the fds close here; the helper has its own
}

}  // namespace corral::dbus
