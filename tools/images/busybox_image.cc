#include "tools/images/busybox_image.h"
#include "tools/images/image_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral::images {

namespace {

// Runs `busybox --list-full`: one applet path per line ("usr/bin/wget", "sbin/init").
absl::StatusOr<std::vector<std::string>> ListApplets(const std::string& busybox) {
  std::string command = absl::StrCat("'", busybox, "' --list-full");
  FILE* pipe = ::popen(command.c_str(), "re");
  if (pipe == nullptr) return ErrnoError(absl::StrCat("run ", command));
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(command, " failed; is busybox-static installed?"));
  }
  std::vector<std::string> applets;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipWhitespace())) {
    applets.emplace_back(line);
  }
  if (applets.empty()) return absl::FailedPreconditionError(absl::StrCat(command, " listed no applets"));
  return applets;
}

absl::Status CopyFile(const std::string& from, const std::string& to, mode_t mode) {
  ASSIGN_OR_RETURN(std::string contents, ReadFile(from));
  RETURN_IF_ERROR(WriteFileAtomically(to, contents, mode));
  if (::chmod(to.c_str(), mode) != 0) return ErrnoError(absl::StrCat("chmod ", to));
  return absl::OkStatus();
}

absl::Status IsStatic(const std::string& binary) {
  ASSIGN_OR_RETURN(std::string contents, ReadFile(binary));
  // A dynamic ELF names its interpreter; a static one has none.
  if (contents.find("/lib64/ld-linux") != std::string::npos || contents.find("/lib/ld-linux") != std::string::npos) {
    return absl::FailedPreconditionError(
        absl::StrCat(binary, " is dynamically linked; install busybox-static (apt-get install busybox-static)"));
  }
  return absl::OkStatus();
}

struct TextFile {
  const char* path;
  const char* contents;
  mode_t mode;
};

constexpr TextFile kFiles[] = {
    {"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", 0644},
    {"etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n", 0644},
    {"etc/shadow", "root::19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n", 0600},
    {"etc/hostname", "busybox\n", 0644},
    {"etc/hosts", "127.0.0.1 localhost\n::1 localhost\n", 0644},
    {"etc/shells", "/bin/sh\n/bin/ash\n", 0644},
    // busybox init: the console gets a shell (respawned), and a clean shutdown unmounts.
    {"etc/inittab",
     "::sysinit:/etc/init.d/rcS\n"
     "console::respawn:-/bin/sh\n"
     "::ctrlaltdel:/sbin/reboot\n"
     "::shutdown:/bin/umount -a -r\n",
     0644},
    {"etc/init.d/rcS", "#!/bin/sh\n# Runs once at boot under busybox init.\n[ -r /etc/hostname ] && hostname -F /etc/hostname 2>/dev/null\nexit 0\n",
     0755},
    {"etc/profile", "export PS1='\\h:\\w\\$ '\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", 0644},
};

constexpr const char* kDirectories[] = {"bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "root",
                                         "home", "var/log", "var/run", "mnt", "proc", "sys", "dev",
                                         "tmp", "run", "lib"};

}  // namespace

absl::StatusOr<std::string> BuildBusyboxImage(const std::string& images_dir, const std::string& busybox_binary) {
  RETURN_IF_ERROR(IsStatic(busybox_binary));
  ASSIGN_OR_RETURN(std::vector<std::string> applets, ListApplets(busybox_binary));

  return BuildImage(images_dir, "busybox", [&](const std::string& staging) -> absl::Status {
    for (const char* dir : kDirectories) RETURN_IF_ERROR(MakeDirectories(absl::StrCat(staging, "/", dir)));
    if (::chmod(absl::StrCat(staging, "/tmp").c_str(), 01777) != 0) return ErrnoError("chmod tmp");
    if (::chmod(absl::StrCat(staging, "/root").c_str(), 0700) != 0) return ErrnoError("chmod root");
    RETURN_IF_ERROR(CopyFile(busybox_binary, absl::StrCat(staging, "/bin/busybox"), 0755));
    for (const std::string& applet : applets) {
      // "usr/bin/wget" -> "/bin/busybox"; absolute targets stay correct inside the container.
      std::string path = absl::StrCat(staging, "/", absl::StripPrefix(applet, "/"));
      if (absl::EndsWith(path, "/bin/busybox")) continue;
      if (::symlink("/bin/busybox", path.c_str()) != 0 && errno != EEXIST) {
        return ErrnoError(absl::StrCat("symlink ", path));
      }
    }
    // /sbin/init must exist even if this busybox build lists init elsewhere.
    std::string init = absl::StrCat(staging, "/sbin/init");
    if (::symlink("/bin/busybox", init.c_str()) != 0 && errno != EEXIST) return ErrnoError("symlink sbin/init");
    for (const TextFile& file : kFiles) {
      std::string path = absl::StrCat(staging, "/", file.path);
      RETURN_IF_ERROR(WriteFileAtomically(path, file.contents, file.mode));
      if (::chmod(path.c_str(), file.mode) != 0) return ErrnoError(absl::StrCat("chmod ", path));
    }
    return absl::OkStatus();
  });
}

}  // namespace corral::images
