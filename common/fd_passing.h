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

// Sends `size` bytes of `data` on `socket`, with `fd` attached when it is >= 0. `flags` go to
// sendmsg (MSG_NOSIGNAL is always added; MSG_DONTWAIT for a peer that must not stall us).
// Retries on EINTR. Returns 0, or the errno (EMSGSIZE for a short send).
inline int SendWithFd(int socket, const void* data, size_t size, int fd, int flags = 0) {
  struct iovec iov = {const_cast<void*>(data), size};
  union {
    struct cmsghdr header;
    char buffer[CMSG_SPACE(sizeof(int))];
  } control = {};
  struct msghdr message = {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  if (fd >= 0) {
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof(control.buffer);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    __builtin_memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(socket, &message, flags | MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno;
  return sent == static_cast<ssize_t>(size) ? 0 : EMSGSIZE;
}

}  // namespace corral

#endif  // CORRAL_COMMON_FD_PASSING_H_
