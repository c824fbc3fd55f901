// A tiny static program copied into test containers to attack `exec` from inside:
//   attach_probe fds              "fds 0 1 2": the fds open in this process
//   attach_probe lease FILE MS    takes a write lease on FILE (an execve of it then blocks
//                                 until the lease goes), prints "leased", holds it MS ms
//   attach_probe scan             for every other process: "PID COMM fd=.. root=.. cwd=.."
//                                 (ok when a /proc/PID/fd/N link opens, /proc/PID/root and
//                                 cwd resolve)
//   attach_probe ttyid            "tty MAJOR:MINOR" of stdin when it is a terminal, else "notty"
//   attach_probe tiocsti          pushes one '#' into stdin's input queue (TIOCSTI, what a
//                                 process does to type into its terminal's shell), then opens
//                                 /dev/tty: "tiocsti ERRNO|ok" and "/dev/tty ERRNO|ok"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static const char* Errno(int rc) { return rc < 0 ? strerrorname_np(errno) : "ok"; }

static int Fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 1;
  printf("fds");
  for (dirent* e; (e = readdir(dir)) != nullptr;) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(dir)) continue;
    printf(" %s", e->d_name);
  }
  printf("\n");
  closedir(dir);
  return 0;
}

static int Lease(const char* file, long ms) {
  signal(SIGIO, SIG_IGN);  // the lease-break notice
  // Read-only: a write lease does not need a writable fd, and a writable one would make the
  // exec that follows fail with ETXTBSY until it is closed.
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fcntl(fd, F_SETLEASE, F_WRLCK) != 0) {
    printf("lease %s\n", strerrorname_np(errno));
    return 1;
  }
  printf("leased\n");
  fflush(stdout);
  timespec hold = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&hold, &hold) != 0 && errno == EINTR) {
  }
  fcntl(fd, F_SETLEASE, F_UNLCK);
  close(fd);
  return 0;
}

static int Scan() {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 1;
  pid_t self = getpid();
  for (dirent* e; (e = readdir(proc)) != nullptr;) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0 || pid == self) continue;
    char path[64], comm[64] = "?", link[256];
    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    int c = open(path, O_RDONLY | O_CLOEXEC);
    if (c >= 0) {
      ssize_t n = read(c, comm, sizeof(comm) - 1);
      comm[n > 0 ? n - 1 : 0] = '\0';
      close(c);
    }
    // Listing /proc/PID/fd is allowed to the same uid; following its links (the way out
    // through a directory fd's "..") is what ptrace access guards.
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    const char* fd_result = "none";
    DIR* fds = opendir(path);
    if (fds == nullptr) fd_result = strerrorname_np(errno);
    for (dirent* f; fds != nullptr && (f = readdir(fds)) != nullptr;) {
      if (f->d_name[0] == '.') continue;
      char entry[300];
      snprintf(entry, sizeof(entry), "/proc/%d/fd/%s", pid, f->d_name);
      int fd = open(entry, O_PATH | O_CLOEXEC);
      if (fd >= 0) {
        close(fd);
        fd_result = "ok";
        break;
      }
      fd_result = strerrorname_np(errno);
    }
    if (fds != nullptr) closedir(fds);
    snprintf(path, sizeof(path), "/proc/%d/root", pid);
    const char* root_result = Errno(static_cast<int>(readlink(path, link, sizeof(link))));
    snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
    const char* cwd_result = Errno(static_cast<int>(readlink(path, link, sizeof(link))));
    printf("%d %s fd=%s root=%s cwd=%s\n", pid, comm, fd_result, root_result, cwd_result);
  }
  closedir(proc);
  return 0;
}

static int TtyId() {
  struct stat st;
  if (!isatty(0) || fstat(0, &st) != 0) {
    printf("notty\n");
    return 1;
  }
  printf("tty %u:%u\n", major(st.st_rdev), minor(st.st_rdev));
  return 0;
}

static int Tiocsti() {
  char c = '#';
  int rc = ioctl(0, TIOCSTI, &c);
  printf("tiocsti %s\n", rc == 0 ? "ok" : strerrorname_np(errno));
  int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  printf("/dev/tty %s\n", tty >= 0 ? "ok" : strerrorname_np(errno));
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "fds") == 0) return Fds();
  if (argc == 4 && strcmp(argv[1], "lease") == 0) return Lease(argv[2], atol(argv[3]));
  if (argc == 2 && strcmp(argv[1], "scan") == 0) return Scan();
  if (argc == 2 && strcmp(argv[1], "ttyid") == 0) return TtyId();
  if (argc == 2 && strcmp(argv[1], "tiocsti") == 0) return Tiocsti();
  fprintf(stderr, "usage: attach_probe fds|lease FILE MS|scan|ttyid|tiocsti\n");
  return 2;
}
