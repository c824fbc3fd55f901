// Raw syscall wrappers for what glibc 2.36 does not wrap: clone3, pidfd_open,
// pidfd_send_signal, openat2, pivot_root, close_range. One place, as crun keeps them.
#ifndef CORRAL_COMMON_SYSCALLS_H_
#define CORRAL_COMMON_SYSCALLS_H_

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>

namespace corral::sys {

inline long Clone3(struct clone_args* args, size_t size) {
  return ::syscall(SYS_clone3, args, size);
}

inline int PidfdOpen(pid_t pid, unsigned int flags) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

inline int PidfdSendSignal(int pidfd, int sig, siginfo_t* info, unsigned int flags) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}

inline int Openat2(int dirfd, const char* path, struct open_how* how, size_t size) {
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, how, size));
}

inline int PivotRoot(const char* new_root, const char* put_old) {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

inline int CloseRange(unsigned int first, unsigned int last, unsigned int flags) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}

}  // namespace corral::sys

#endif  // CORRAL_COMMON_SYSCALLS_H_
