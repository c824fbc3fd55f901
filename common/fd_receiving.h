// The receiving side of common/fd_passing.h: one message of a unix socket with the fds that
// came with it, each owned on arrival (close-on-exec), so none can leak whatever the message
// turns out to be.
#ifndef CORRAL_COMMON_FD_RECEIVING_H_
#define CORRAL_COMMON_FD_RECEIVING_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace corral {

// recvmsg of one message into `buffer` (at most its size; MSG_DONTWAIT, MSG_CMSG_CLOEXEC),
// the fds appended to *fds (at most kMaxPassedFds), *truncated when the data or the fds did not
// fit. Returns the size received, 0 at the peer's end, or -1 with errno (EAGAIN: nothing yet).
ssize_t ReceiveWithFds(int socket, std::string* buffer, std::vector<UniqueFd>* fds, bool* truncated);

}  // namespace corral

#endif  // CORRAL_COMMON_FD_RECEIVING_H_
