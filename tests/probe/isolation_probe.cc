// A tiny static program copied into test rootfs to attack the isolation from inside: the
// syscalls the seccomp profiles filter by argument (user namespaces, clone3, vsock and audit
// sockets) and io_uring. Prints one line per attempt: "<name> <errno name or ok>". Every call
// that succeeds is undone at once (a child exits, a socket is closed); nothing is written.
// With the argument "euid" it prints "euid <n>" instead (for the setuid-binary tests).
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void Report(const char* name, long rc) { printf("%s %s\n", name, rc < 0 ? strerrorname_np(errno) : "ok"); }

// A child made by a raw clone exits at once; the parent reaps it.
static long Reap(long rc) {
  if (rc == 0) _exit(0);
  if (rc > 0) waitpid(static_cast<pid_t>(rc), nullptr, 0);
  return rc;
}

static long Socket(long family, long type, long protocol) {
  long fd = syscall(SYS_socket, family, type, protocol);
  if (fd >= 0) close(static_cast<int>(fd));
  return fd;
}

static void* Nothing(void*) { return nullptr; }

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "euid") == 0) {
    printf("euid %d\n", static_cast<int>(geteuid()));
    return 0;
  }
  Report("clone_newuser", Reap(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr)));
  struct clone_args args = {};
  args.exit_signal = SIGCHLD;
  Report("clone3", Reap(syscall(SYS_clone3, &args, sizeof(args))));
  // glibc's pthread_create tries clone3 first: with ENOSYS it must fall back to clone.
  pthread_t thread;
  int err = pthread_create(&thread, nullptr, Nothing, nullptr);
  if (err == 0) pthread_join(thread, nullptr);
  errno = err;
  Report("pthread_create", err == 0 ? 0 : -1);
  Report("fork", Reap(fork()));
  Report("io_uring_setup", syscall(SYS_io_uring_setup, 1, nullptr));
  Report("io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0));
  Report("io_uring_register", syscall(SYS_io_uring_register, -1, 0, nullptr, 0));
  Report("socket_vsock", Socket(AF_VSOCK, SOCK_STREAM, 0));
  Report("socket_vsock_high_bits", Socket(0x100000000L | AF_VSOCK, SOCK_STREAM, 0));
  Report("socket_netlink_audit", Socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT));
  Report("socket_netlink_route", Socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
  Report("socket_unix", Socket(AF_UNIX, SOCK_STREAM, 0));
  // Last: on success it moves this process into a new user namespace.
  Report("unshare_newuser", syscall(SYS_unshare, CLONE_NEWUSER));
  return 0;
}
