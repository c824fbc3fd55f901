// A tiny static program for the user namespace escape tests: from inside a container, makes a
// nested user, mount and PID namespace, mounts a fresh proc there and tries to open the host's
// kernel.core_pattern for writing (opened and closed, never written). Prints
// "core_pattern <errno name or ok>", or the step that failed before.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "/tmp/probe-proc";
  if (unshare(CLONE_NEWUSER) != 0) return printf("unshare-user %s\n", strerrorname_np(errno)), 0;
  if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) return printf("unshare-mnt-pid %s\n", strerrorname_np(errno)), 0;
  pid_t child = fork();
  if (child < 0) return printf("fork %s\n", strerrorname_np(errno)), 0;
  if (child == 0) {
    mkdir(dir, 0755);
    if (mount("proc", dir, "proc", 0, nullptr) != 0) return printf("mount-proc %s\n", strerrorname_np(errno)), 0;
    char path[256];
    snprintf(path, sizeof(path), "%s/sys/kernel/core_pattern", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    printf("core_pattern %s\n", fd < 0 ? strerrorname_np(errno) : "ok");
    if (fd >= 0) close(fd);
    return 0;
  }
  int status = 0;
  waitpid(child, &status, 0);
  return 0;
}
