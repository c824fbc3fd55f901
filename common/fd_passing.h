// Passing one file descriptor over a unix socket (SCM_RIGHTS) with a few bytes of data: the one
// sender every protocol of corral's uses (the container's go, the attach reports, console
// sessions, a pty master to a caller). Allocation-free, so child code between clone and exec
// may call it.
#ifndef CORRAL_COMMON_FD_PASSING_H_
#define CORRAL_COMMON_FD_PASSING_H_

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

namespace corral {

// The most fds one message of ours carries.
inline constexpr size_t kMaxPassedFds = 8;

// Sends `size` bytes of `data` on `socket`, with the `count` fds of `fds` attached (at most
// kMaxPassedFds; none when count is 0). `flags` go to sendmsg (MSG_NOSIGNAL is always added;
// MSG_DONTWAIT for a peer that must not stall us). Retries on EINTR. Returns 0, or the errno
// (EMSGSIZE for a short send, EINVAL for too many fds).
inline int SendWithFds(int socket, const void* data, size_t size, const int* fds, size_t count, int flags = 0) {
  if (count > kMaxPassedFds) return EINVAL;
  struct iovec iov = {const_cast<void*>(data), size};
  union {
    struct cmsghdr header;
    char buffer[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  } control = {};
  struct msghdr message = {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  if (count > 0) {
    message.msg_control = control.buffer;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
    __builtin_memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(socket, &message, flags | MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno;
  return sent == static_cast<ssize_t>(size) ? 0 : EMSGSIZE;
}

// The same with one fd attached when `fd` is >= 0.
inline int SendWithFd(int socket, const void* data, size_t size, int fd, int flags = 0) {
  return SendWithFds(socket, data, size, &fd, fd >= 0 ? 1 : 0, flags);
}

}  // namespace corral

#endif  // CORRAL_COMMON_FD_PASSING_H_
