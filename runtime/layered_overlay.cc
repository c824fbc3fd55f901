#include "runtime/layered_overlay.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "runtime/userns.h"

namespace corral::runtime {
namespace {

int FsConfig(int fs, unsigned int cmd, const char* key, const char* value) {
  return ::fsconfig(fs, cmd, key, value, 0);
}

// The kernel's own words on a failed fsconfig, read from the fs context's log.
std::string KernelLog(int fs) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fs, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
  }
  return out.empty() ? "" : absl::StrCat(" [kernel: ", out, "]");
}

// Detaches what was attached for the mount's making, whatever happens.
struct Attached {
  std::vector<std::string> paths;
  ~Attached() {
    for (const std::string& p : paths) ::umount2(p.c_str(), MNT_DETACH);
  }
};

}  // namespace

absl::Status MountLayeredOverlay(const LayeredOverlay& o) {
  if (o.lowers.empty()) return absl::InvalidArgumentError("an overlay needs at least one lower layer");
  Attached attached;
  std::vector<std::string> lowers = o.lowers;
  if (o.userns_fd >= 0) {
    if (::mkdir(o.scratch.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError(absl::StrCat("mkdir ", o.scratch));
    for (size_t i = 0; i < lowers.size(); ++i) {
      std::string at = absl::StrCat(o.scratch, "/", i);
      if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError(absl::StrCat("mkdir ", at));
      ::umount2(at.c_str(), MNT_DETACH);  // a leftover of a start that was killed
      absl::StatusOr<UniqueFd> tree = OpenIdmappedTree(lowers[i], o.userns_fd, /*read_only=*/true);
      if (!tree.ok()) return Annotate(tree.status(), absl::StrCat("layer ", lowers[i]));
      RETURN_IF_ERROR(AttachTree(tree->get(), at));
      attached.paths.push_back(at);
      lowers[i] = at;
    }
  }
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs.valid()) return ErrnoError("fsopen overlay");
  bool per_layer = true;
  for (size_t i = 0; i < lowers.size(); ++i) {
    if (FsConfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", lowers[i].c_str()) == 0) continue;
    int err = errno;
    if (i == 0 && err == EINVAL) {  // before Linux 6.8: one option string
      per_layer = false;
      break;
    }
    return ErrnoError(err, absl::StrCat("overlay: add the lower layer ", o.lowers[i], KernelLog(fs.get())));
  }
  if (!per_layer) {
    std::string joined = absl::StrJoin(lowers, ":");
    if (joined.size() > 4000) {
      return absl::InvalidArgumentError(absl::StrCat("overlay: ", lowers.size(),
                                                     " layers do not fit one mount option string on this kernel (Linux >= 6.8 takes them one by one)"));
    }
    if (FsConfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir", joined.c_str()) != 0) {
      return ErrnoError(absl::StrCat("overlay: lowerdir=", joined, KernelLog(fs.get())));
    }
  }
  if (FsConfig(fs.get(), FSCONFIG_SET_STRING, "upperdir", o.upper.c_str()) != 0) {
    return ErrnoError(absl::StrCat("overlay: upperdir ", o.upper, KernelLog(fs.get())));
  }
  if (FsConfig(fs.get(), FSCONFIG_SET_STRING, "workdir", o.work.c_str()) != 0) {
    return ErrnoError(absl::StrCat("overlay: workdir ", o.work, KernelLog(fs.get())));
  }
  if (FsConfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr) != 0) {
    int err = errno;
    absl::Status status = ErrnoError(err, absl::StrCat("overlay of ", lowers.size(), " layers (", absl::StrJoin(o.lowers, ":"),
                                                       ") at ", o.target, KernelLog(fs.get())));
    if (o.userns_fd >= 0 && (err == EINVAL || err == EPERM || err == EOPNOTSUPP)) {
      status = Annotate(status, "overlay on idmapped layers (needs Linux >= 5.19; a --privileged container does not)");
    }
    return status;
  }
  UniqueFd mount(::fsmount(fs.get(), FSMOUNT_CLOEXEC, o.mount_attrs));
  if (!mount.valid()) return ErrnoError(absl::StrCat("fsmount the overlay for ", o.target));
  if (::move_mount(mount.get(), "", AT_FDCWD, o.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return ErrnoError(absl::StrCat("attach the overlay at ", o.target, " (move_mount)"));
  }
  return absl::OkStatus();
}

}  // namespace corral::runtime
