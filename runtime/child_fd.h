// ChildFd: the fd owner for code between clone and exec. Like UniqueFd it closes on scope
// exit, but keeps errno as the failing call left it, so the error report names the real cause.
#ifndef CORRAL_RUNTIME_CHILD_FD_H_
#define CORRAL_RUNTIME_CHILD_FD_H_

#include <errno.h>
#include <unistd.h>

namespace corral::runtime {

class ChildFd {
 public:
  ChildFd() = default;
  explicit ChildFd(int fd) : fd_(fd) {}
  ChildFd(const ChildFd&) = delete;
  ChildFd& operator=(const ChildFd&) = delete;
  ~ChildFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes the current fd (errno untouched) and takes `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      int saved = errno;
      ::close(fd_);
      errno = saved;
    }
    fd_ = fd;
  }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CHILD_FD_H_
