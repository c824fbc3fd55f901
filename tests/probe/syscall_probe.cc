// A tiny static program copied into test rootfs to try syscalls the seccomp profile denies.
// Prints one line per syscall: "<name> <errno name or ok>". `syscall_probe remount PATH...`
// instead tries to make each PATH writable again (mount MS_REMOUNT|MS_BIND|MS_NOSUID|MS_NODEV,
// so only MS_RDONLY is dropped;
// mount_setattr clearing MOUNT_ATTR_RDONLY) and then to create PATH/probe-written;
// `syscall_probe umount PATH...` tries umount2 on each.
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

static void Report(const char* name, long rc) {
  printf("%s %s\n", name, rc < 0 ? strerrorname_np(errno) : "ok");
}

static void ReportPath(const char* name, const char* path, long rc) {
  printf("%s %s %s\n", name, path, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "remount") == 0) {
    for (int i = 2; i < argc; ++i) {
      ReportPath("remount-rw", argv[i], mount(nullptr, argv[i], nullptr, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, nullptr));
      struct mount_attr attr = {};
      attr.attr_clr = MOUNT_ATTR_RDONLY;
      ReportPath("setattr-rw", argv[i], mount_setattr(AT_FDCWD, argv[i], 0, &attr, sizeof(attr)));
      char file[4096];
      snprintf(file, sizeof(file), "%s/probe-written", argv[i]);
      int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      ReportPath("create", argv[i], fd);
      if (fd >= 0) close(fd);
    }
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "umount") == 0) {
    for (int i = 2; i < argc; ++i) ReportPath("umount", argv[i], umount2(argv[i], 0));
    return 0;
  }
  Report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  Report("bpf", syscall(SYS_bpf, 0, nullptr, 0));
  Report("perf_event_open", syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0));
  Report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, nullptr, 0));
  Report("getpid", syscall(SYS_getpid));
  return 0;
}
