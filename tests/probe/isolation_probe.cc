// A tiny static program copied into test rootfs to attack the isolation from inside: the
// syscalls the seccomp profiles filter by argument (user namespaces, clone3, vsock and audit
// sockets) and io_uring, also through the 32-bit and x32 entry points. Prints one line per
// attempt: "<name> <errno name or ok>". Every call that succeeds is undone at once (a child
// exits, a socket is closed); nothing is written.
// With the argument "euid" it prints "euid <n>" instead (for the setuid-binary tests).
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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

// A syscall through the 32-bit x86 entry (int 0x80, i386 numbers), which a 64-bit process may
// use when the kernel has IA32 emulation: the filter must see it too. Returns -1 with errno set
// on failure, as syscall(2) does.
static long Int80(long nr, long a1, long a2 = 0, long a3 = 0) {
  long ret;
  asm volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a1), "c"(a2), "d"(a3) : "memory");
  if (ret < 0 && ret > -4096) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
}

// Runs `call` in a forked child; returns its result there (-1 with errno, or 0).
template <typename Call>
static long InChild(Call call) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) _exit(call() < 0 ? errno : 0);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) {
    errno = EINTR;
    return -1;
  }
  errno = WEXITSTATUS(status);
  return errno == 0 ? 0 : -1;
}

constexpr long kI386Unshare = 310, kI386Socket = 359, kI386Socketcall = 102, kSysSocket = 1;
// The x32 ABI: x86_64 numbers with bit 30 set (the filter answers before the kernel looks, so
// this is EPERM even where the kernel has no x32).
constexpr long kX32Bit = 0x40000000;

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
  long fd = Int80(kI386Socket, AF_VSOCK, SOCK_STREAM, 0);
  if (fd >= 0) close(static_cast<int>(fd));
  Report("socket_vsock_i386", fd);
  // socketcall's arguments are in memory, below 4 GiB for a 32-bit pointer.
  void* low = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low != MAP_FAILED) {
    unsigned int* call_args = static_cast<unsigned int*>(low);
    call_args[0] = AF_VSOCK;
    call_args[1] = SOCK_STREAM;
    call_args[2] = 0;
    fd = Int80(kI386Socketcall, kSysSocket, reinterpret_cast<long>(low));
    if (fd >= 0) close(static_cast<int>(fd));
    Report("socketcall_vsock_i386", fd);
  }
  // Each in a child of its own: a successful unshare would move the probe itself (and a second
  // one from an unmapped uid fails for the kernel's own reasons).
  Report("unshare_newuser", InChild([] { return syscall(SYS_unshare, CLONE_NEWUSER); }));
  Report("unshare_newuser_i386", InChild([] { return Int80(kI386Unshare, CLONE_NEWUSER); }));
  Report("unshare_newuser_x32", InChild([] { return syscall(kX32Bit | SYS_unshare, CLONE_NEWUSER); }));
  return 0;
}
