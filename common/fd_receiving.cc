#include "common/fd_receiving.h"

#include <sys/socket.h>

#include <cstring>

#include "common/fd_passing.h"

namespace corral {

ssize_t ReceiveWithFds(int socket, std::string* buffer, std::vector<UniqueFd>* fds, bool* truncated) {
  union {
    cmsghdr header;
    char bytes[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  } control;
  iovec iov = {buffer->data(), buffer->size()};
  msghdr message = {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control.bytes;
  message.msg_controllen = sizeof(control.bytes);
  ssize_t n = ::recvmsg(socket, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds->emplace_back(fd);
    }
  }
  *truncated = (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  return n;
}

}  // namespace corral
