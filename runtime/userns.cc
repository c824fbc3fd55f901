#include "runtime/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/clone.h"
#include "runtime/idmap.h"

namespace corral::runtime {

namespace {

std::string RenderMap(const std::vector<IdMapping>& map) {
  std::string out;
  for (const IdMapping& m : map) absl::StrAppend(&out, m.container_id, " ", m.host_id, " ", m.count, "\n");
  return out;
}

}  // namespace

std::vector<IdMapping> BlockMap(uint32_t base) { return {{0, base, kIdBlockSize}}; }

absl::Status WriteIdMaps(pid_t pid, const std::vector<IdMapping>& uid_map, const std::vector<IdMapping>& gid_map) {
  RETURN_IF_ERROR(WriteExistingFile(absl::StrCat("/proc/", pid, "/uid_map"), RenderMap(uid_map)));
  return WriteExistingFile(absl::StrCat("/proc/", pid, "/gid_map"), RenderMap(gid_map));
}

absl::StatusOr<UniqueFd> MakeUserNamespace(const std::vector<IdMapping>& uid_map,
                                           const std::vector<IdMapping>& gid_map) {
  ASSIGN_OR_RETURN(CloneResult child, CloneWithPidfd(CLONE_NEWUSER));
  if (child.pid == 0) {
    // Only holds the namespace until the parent has its fd; killed then.
    for (;;) ::pause();
  }
  absl::Status written = WriteIdMaps(child.pid, uid_map, gid_map);
  UniqueFd ns;
  if (written.ok()) {
    ns.reset(::open(absl::StrCat("/proc/", child.pid, "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns.valid()) written = ErrnoError(absl::StrCat("open /proc/", child.pid, "/ns/user"));
  }
  sys::PidfdSendSignal(child.pidfd.get(), SIGKILL, nullptr, 0);
  siginfo_t info;
  while (::waitid(P_PIDFD, child.pidfd.get(), &info, WEXITED) != 0 && errno == EINTR) {
  }
  if (!written.ok()) return Annotate(written, "make a user namespace for the idmapped mount");
  return ns;
}

absl::StatusOr<UniqueFd> OpenIdmappedTree(const std::string& path, int userns_fd, bool read_only) {
  UniqueFd tree(::open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (!tree.valid()) return ErrnoError(absl::StrCat("open_tree(OPEN_TREE_CLONE) of ", path));
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP | (read_only ? MOUNT_ATTR_RDONLY : 0);
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) != 0) {
    int err = errno;
    std::string why;
    if (err == EINVAL || err == ENOSYS || err == EPERM || err == EOPNOTSUPP) {
      why = absl::StrCat(
          ": the kernel or the file system of ", path,
          " (or of a mount below it) cannot do idmapped mounts (Linux >= 5.12; ext4, xfs, btrfs, tmpfs >= 6.3; "
          "overlay on idmapped layers >= 5.19); a privileged container (--privileged, no user namespace) does not "
          "need them");
    }
    return absl::Status(StatusCodeFromErrno(err),
                        absl::StrCat(ErrnoError(err, absl::StrCat("idmap the mount of ", path,
                                                                  " (mount_setattr MOUNT_ATTR_IDMAP)"))
                                         .message(),
                                     why));
  }
  return tree;
}

absl::Status AttachTree(int tree_fd, const std::string& target) {
  if (::move_mount(tree_fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return ErrnoError(absl::StrCat("attach the idmapped mount at ", target, " (move_mount)"));
  }
  return absl::OkStatus();
}

namespace {

uint32_t g_shift_offset = 0;
int g_shift_errno = 0;
std::string* g_shift_failed_path = nullptr;

int ShiftOne(const char* path, const struct stat* st, int, struct FTW*) {
  uid_t uid = st->st_uid < kIdBlockSize ? st->st_uid + g_shift_offset : static_cast<uid_t>(-1);
  gid_t gid = st->st_gid < kIdBlockSize ? st->st_gid + g_shift_offset : static_cast<gid_t>(-1);
  if (uid == static_cast<uid_t>(-1) && gid == static_cast<gid_t>(-1)) return 0;
  if (::lchown(path, uid, gid) != 0) {
    g_shift_errno = errno;
    *g_shift_failed_path = path;
    return 1;
  }
  // chown clears setuid and setgid on files; the shifted file keeps what it had.
  if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) != 0 && ::chmod(path, st->st_mode & 07777) != 0) {
    g_shift_errno = errno;
    *g_shift_failed_path = path;
    return 1;
  }
  return 0;
}

}  // namespace

absl::Status ShiftOwnership(const std::string& dir, uint32_t offset) {
  // nftw has no user pointer; a start is one thread, so file-level state is enough.
  std::string failed;
  g_shift_offset = offset;
  g_shift_errno = 0;
  g_shift_failed_path = &failed;
  // FTW_DEPTH: children before their directory, so the top is shifted last and "top owned by
  // the range" means the whole tree is done.
  int rc = ::nftw(dir.c_str(), ShiftOne, 64, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
  g_shift_failed_path = nullptr;
  if (rc < 0) return ErrnoError(absl::StrCat("walk ", dir, " to shift its ownership"));
  if (rc != 0) return ErrnoError(g_shift_errno, absl::StrCat("shift the ownership of ", failed, " by ", offset));
  return absl::OkStatus();
}

absl::Status CheckSearchableBy(const std::string& path, uid_t uid, gid_t gid) {
  for (size_t end = 1; end <= path.size(); ++end) {
    end = path.find('/', end);
    if (end == std::string::npos) end = path.size();
    std::string prefix = path.substr(0, end == 0 ? 1 : end);
    struct stat st;
    if (::stat(prefix.c_str(), &st) != 0) return ErrnoError(absl::StrCat("stat ", prefix));
    if (!S_ISDIR(st.st_mode)) continue;
    bool searchable = st.st_uid == uid ? (st.st_mode & S_IXUSR) != 0
                      : st.st_gid == gid ? (st.st_mode & S_IXGRP) != 0
                                         : (st.st_mode & S_IXOTH) != 0;
    if (!searchable) {
      char mode[8];
      ::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return absl::PermissionDeniedError(absl::StrCat(
          prefix, " (mode ", mode, ", owner ", st.st_uid, ":", st.st_gid,
          ") cannot be searched by the container's root, host uid ", uid, " in its user namespace: make it 0711 or ",
          "move the root file system, or run a privileged container (--privileged)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corral::runtime
