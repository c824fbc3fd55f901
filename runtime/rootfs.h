// The container's root file system: a plan of mounts, device nodes and links computed in the
// parent, and the child-side code that carries it out and pivot_roots into it. Every target is
// resolved inside the rootfs with openat2(RESOLVE_IN_ROOT), so a symlink in an image cannot
// send a mount outside it.
#ifndef CORRAL_RUNTIME_ROOTFS_H_
#define CORRAL_RUNTIME_ROOTFS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/spec.h"

namespace corral::runtime {

// One step of rootfs setup. Paths in `target` are relative to the rootfs ("dev/pts").
struct RootfsStep {
  enum class Kind {
    kMount,       // mount(source, target, fstype, flags, data)
    kBind,        // bind `source` (a host path) onto target; read-only if flags has MS_RDONLY
    kDevice,      // a character device (mknod, or a bind of the host's node where mknod is denied)
    kSymlink,     // symlink `source` at target
    kMaskFile,    // bind /dev/null over target (skipped if missing)
    kMaskDir,     // read-only empty tmpfs over target (skipped if missing)
    kReadOnly,    // bind target onto itself and remount read-only (skipped if missing)
  };
  Kind kind;
  std::string target;
  std::string source;
  std::string fstype;
  std::string data;
  unsigned long flags = 0;
  mode_t mode = 0;
  dev_t device = 0;
  bool target_is_file = false;  // create a file rather than a directory as mount point
  bool optional = false;        // a missing source or target is not an error
};

struct RootfsPlan {
  std::string rootfs;  // absolute host path
  std::vector<RootfsStep> steps;
};

// Builds the plan: /proc, /sys (read-only), /dev (tmpfs with null, zero, full, random, urandom,
// tty, console, devpts, ptmx, shm, mqueue), /run and /tmp tmpfs, the caller's extra mounts, and
// the OCI default masked and read-only paths. `console_path` is the host path of the pty slave
// to bind on /dev/console, or empty.
RootfsPlan MakeRootfsPlan(const ContainerSpec& spec, const std::string& console_path);

// The OCI runtime-spec defaults that corral masks and makes read-only.
const std::vector<std::string>& MaskedPaths();
const std::vector<std::string>& ReadOnlyPaths();

// Child side: makes mounts private, bind-mounts the rootfs on itself, carries out every step,
// pivot_roots and detaches the old root. On failure writes a ChildError to `error_fd` and
// returns false. Async-signal-safe: no allocation.
bool SetUpRootfsInChild(const RootfsPlan& plan, int error_fd);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_ROOTFS_H_
