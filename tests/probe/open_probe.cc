// A tiny static program copied into test rootfs to try opens and mknods from inside a
// container without ever writing: a file is opened (for writing, at most) and closed again.
//   open_probe r|w|rw PATH...          one line per PATH: "PATH ok" or "PATH <errno name>"
//   open_probe mknod PATH c|b MAJOR MINOR   "mknod PATH ok" or "mknod PATH <errno name>"
// Opens use O_NONBLOCK | O_NOCTTY and never O_CREAT or O_TRUNC.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: open_probe r|w|rw PATH... | mknod PATH c|b MAJOR MINOR\n");
    return 2;
  }
  if (strcmp(argv[1], "mknod") == 0) {
    if (argc != 6) return 2;
    mode_t type = argv[3][0] == 'b' ? S_IFBLK : S_IFCHR;
    dev_t dev = makedev(static_cast<unsigned>(atoi(argv[4])), static_cast<unsigned>(atoi(argv[5])));
    int rc = mknod(argv[2], type | 0600, dev);
    printf("mknod %s %s\n", argv[2], rc == 0 ? "ok" : strerrorname_np(errno));
    return 0;
  }
  int mode = strcmp(argv[1], "w") == 0 ? O_WRONLY : strcmp(argv[1], "rw") == 0 ? O_RDWR : O_RDONLY;
  for (int i = 2; i < argc; ++i) {
    int fd = open(argv[i], mode | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    printf("%s %s\n", argv[i], fd >= 0 ? "ok" : strerrorname_np(errno));
    if (fd >= 0) close(fd);
  }
  return 0;
}
