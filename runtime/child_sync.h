// The start handshake between the runtime's parent and the container's child, over one
// SOCK_SEQPACKET pair made before the clone. Typed messages, each one packet:
//
//   direction       message          data                         fds (SCM_RIGHTS)
//   parent → child  SyncMessage::kGo 1 byte                       the fd slots: the idmapped
//                                                                 rootfs tree (GoFd::kRootfsTree)
//                                                                 or none
//   child → parent  error record     ChildError (child_error.h)   none
//   child → parent  end of stream    execve closed the child's last copy of its end: started
//
// The child side is allocation-free (it runs between clone and exec).
#ifndef CORRAL_RUNTIME_CHILD_SYNC_H_
#define CORRAL_RUNTIME_CHILD_SYNC_H_

#include <errno.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fd_passing.h"
#include "common/unique_fd.h"

namespace corral::runtime {

enum class SyncMessage : uint8_t {
  kGo = 1,  // the parent is done (id maps, cgroup, network): set up and exec
};

// The fd slots of the go message, in the order they are attached.
enum class GoFd : size_t {
  kRootfsTree = 0,  // the idmapped rootfs as a detached mount (spec.idmap_rootfs)
  kCount,
};

// The fds that came with the go, by slot; -1 for a slot the parent left empty.
struct GoFds {
  GoFds() {
    for (int& fd : fds) fd = -1;
  }
  int fds[static_cast<size_t>(GoFd::kCount)];
  int& operator[](GoFd slot) { return fds[static_cast<size_t>(slot)]; }
  int operator[](GoFd slot) const { return fds[static_cast<size_t>(slot)]; }
};

// Child side: waits for the go on `fd`. Returns 0, or EPIPE when the parent gave up (its end
// closed) or sent something else, or the recvmsg errno. Fds arrive close-on-exec.
inline int ReceiveGoInChild(int fd, GoFds* out) {
  uint8_t message = 0;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * static_cast<size_t>(GoFd::kCount))];
  struct iovec iov = {&message, 1};
  struct msghdr header = {};
  header.msg_iov = &iov;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof(control);
  ssize_t got;
  do {
    got = ::recvmsg(fd, &header, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return errno;
  if (got != 1 || message != static_cast<uint8_t>(SyncMessage::kGo)) return EPIPE;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
  if (cmsg != nullptr && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    if (count > static_cast<size_t>(GoFd::kCount)) count = static_cast<size_t>(GoFd::kCount);
    __builtin_memcpy(out->fds, CMSG_DATA(cmsg), sizeof(int) * count);
  }
  return 0;
}

// Parent side: the pair, its child end closed once the child has its own copy.
class ChildSync {
 public:
  static absl::StatusOr<ChildSync> Open();

  int parent_end() const { return parent_.get(); }
  int child_end() const { return child_.get(); }
  // After the clone: only the child's copy remains, so its execve (or death) ends the stream.
  void CloseChildEnd() { child_.reset(); }

  // Sends the go with `fds` in their slots (-1: empty; trailing empty slots are left off).
  absl::Status SendGo(const GoFds& fds);
  // Waits for the child's outcome: OK once it has exec'd, or its error record as a Status
  // (child_error.h). `*failed` says whether the child reported an error (it is then exiting).
  absl::Status AwaitExec(bool* failed);

 private:
  ChildSync(UniqueFd parent, UniqueFd child) : parent_(std::move(parent)), child_(std::move(child)) {}
  UniqueFd parent_;
  UniqueFd child_;
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CHILD_SYNC_H_
