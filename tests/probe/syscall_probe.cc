// A tiny static program copied into test rootfs to try syscalls the seccomp profile denies.
// Prints one line per syscall: "<name> <errno name or ok>".
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void Report(const char* name, long rc) {
  printf("%s %s\n", name, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main() {
  Report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  Report("bpf", syscall(SYS_bpf, 0, nullptr, 0));
  Report("perf_event_open", syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0));
  Report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, nullptr, 0));
  Report("getpid", syscall(SYS_getpid));
  return 0;
}
