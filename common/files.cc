#include "common/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoError(absl::StrCat("open ", path));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(absl::StrCat("read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

static absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(absl::StrCat("write ", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

bool DurableWritesDisabled() {
  static const bool disabled = [] {
    const char* v = ::getenv("CORRAL_UNSAFE_NO_FSYNC");
    return v != nullptr && std::string_view(v) == "1";
  }();
  return disabled;
}

absl::StatusOr<std::string> WriteAndRename(const std::string& path, absl::string_view contents, mode_t mode,
                                           bool fsync_file) {
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return ErrnoError(absl::StrCat("create ", tmp));
  absl::Status status = WriteAll(fd.get(), contents, tmp);
  // The data before the rename: a rename on disk ahead of it could leave an empty file in
  // place of the old one after a power cut.
  if (status.ok() && fsync_file && ::fsync(fd.get()) != 0) status = ErrnoError(absl::StrCat("fsync ", tmp));
  fd.reset();
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoError(absl::StrCat("rename ", tmp, " to ", path));
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : path.substr(0, slash);
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, mode_t mode,
                                 Durability durability) {
  if (DurableWritesDisabled()) durability = Durability::kProcessCrashSafe;
  const bool durable = durability == Durability::kCrashSafe;
  absl::StatusOr<std::string> dir = WriteAndRename(path, contents, mode, durable);
  if (!dir.ok()) return dir.status();
  if (durable) {
    // The rename is only durable once the directory is: without this fsync a power cut can
    // bring back the old file, or none, although the new one's data was on disk.
    UniqueFd dir_fd(::open(dir->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return ErrnoError(absl::StrCat("open ", *dir, " to fsync it"));
    if (::fsync(dir_fd.get()) != 0) return ErrnoError(absl::StrCat("fsync ", *dir));
  }
  return absl::OkStatus();
}

absl::Status WriteExistingFile(const std::string& path, absl::string_view contents) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoError(absl::StrCat("open ", path));
  ssize_t n = ::write(fd.get(), contents.data(), contents.size());
  if (n < 0) return ErrnoError(absl::StrCat("write ", path));
  if (static_cast<size_t>(n) != contents.size()) {
    return absl::InternalError(absl::StrCat("short write to ", path));
  }
  return absl::OkStatus();
}

absl::Status MakeDirectories(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("mkdir: empty path");
  for (size_t pos = 1;; ++pos) {
    pos = path.find('/', pos);
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError(absl::StrCat("mkdir ", prefix));
    }
    if (pos == std::string::npos) break;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(absl::StrCat("stat ", path));
  if (!S_ISDIR(st.st_mode)) return ErrnoError(ENOTDIR, absl::StrCat("mkdir ", path));
  return absl::OkStatus();
}

static absl::Status RemoveTreeAt(int parent_fd, const char* name, dev_t dev, const std::string& path) {
  struct stat st;
  if (::fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError(absl::StrCat("stat ", path));
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) {
      return absl::FailedPreconditionError(absl::StrCat("refusing to remove ", path,
                                                        ": it is a mount point of another file system"));
    }
    UniqueFd dir_fd(::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir_fd) return ErrnoError(absl::StrCat("open ", path));
    DIR* dir = ::fdopendir(::dup(dir_fd.get()));
    if (dir == nullptr) return ErrnoError(absl::StrCat("opendir ", path));
    absl::Status status;
    while (struct dirent* entry = ::readdir(dir)) {
      absl::string_view child = entry->d_name;
      if (child == "." || child == "..") continue;
      status = RemoveTreeAt(dir_fd.get(), entry->d_name, dev, absl::StrCat(path, "/", child));
      if (!status.ok()) break;
    }
    ::closedir(dir);
    if (!status.ok()) return status;
    if (::unlinkat(parent_fd, name, AT_REMOVEDIR) != 0) return ErrnoError(absl::StrCat("rmdir ", path));
    return absl::OkStatus();
  }
  if (::unlinkat(parent_fd, name, 0) != 0 && errno != ENOENT) {
    return ErrnoError(absl::StrCat("unlink ", path));
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError(absl::StrCat("stat ", path));
  }
  return RemoveTreeAt(AT_FDCWD, path.c_str(), st.st_dev, path);
}

namespace {
bool lock_non_blocking = false;
}  // namespace

void FileLock::SetNonBlocking(bool non_blocking) { lock_non_blocking = non_blocking; }

namespace {

absl::StatusOr<UniqueFd> TakeFlock(const std::string& path, bool non_blocking) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(absl::StrCat("open lock ", path));
  while (::flock(fd.get(), LOCK_EX | (non_blocking ? LOCK_NB : 0)) != 0) {
    if (errno == EWOULDBLOCK && non_blocking) {
      return absl::UnavailableError(absl::StrCat("lock ", path, ": held by another process"));
    }
    if (errno != EINTR) return ErrnoError(absl::StrCat("lock ", path));
  }
  return fd;
}

}  // namespace

absl::StatusOr<FileLock> FileLock::Take(const std::string& path) {
  ASSIGN_OR_RETURN(UniqueFd fd, TakeFlock(path, lock_non_blocking));
  return FileLock(std::move(fd));
}

absl::StatusOr<FileLock> FileLock::TryTake(const std::string& path) {
  ASSIGN_OR_RETURN(UniqueFd fd, TakeFlock(path, /*non_blocking=*/true));
  return FileLock(std::move(fd));
}

absl::StatusOr<uint64_t> ParseStatStartTime(absl::string_view stat) {
  // "PID (COMM) STATE PPID ...": the fields start after the last ')'; starttime is field 22 of
  // the whole line, the 20th after the ')'.
  size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) return absl::InvalidArgumentError("stat line without \"(comm)\"");
  std::vector<absl::string_view> fields = absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  uint64_t start = 0;
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[19], &start)) {
    return absl::InvalidArgumentError("stat line without a start time");
  }
  return start;
}

}  // namespace corral
