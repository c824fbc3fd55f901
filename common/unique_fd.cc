#include "common/unique_fd.h"

#include <unistd.h>

namespace corral {

void UniqueFd::reset(int fd) {
  // close() errors are not actionable here: the fd is gone either way (see close(2) on EINTR).
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace corral
