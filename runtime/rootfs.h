// The container's root file system: a plan of mounts, device nodes and links computed in the
// parent, and the child-side code that carries it out and pivot_roots into it. Every target is
// resolved inside the rootfs with openat2(RESOLVE_IN_ROOT), so a symlink in an image cannot
// send a mount outside it; API mounts and masks fail closed (see RootfsStep).
#ifndef CORRAL_RUNTIME_ROOTFS_H_
#define CORRAL_RUNTIME_ROOTFS_H_

#include <sys/types.h>

#include <cstdint>

#include <string>
#include <vector>

#include "runtime/spec.h"

namespace corral::runtime {

// One step of rootfs setup. Paths in `target` are relative to the rootfs ("dev/pts").
struct RootfsStep {
  enum class Kind {
    // A kernel file system (proc, sysfs, tmpfs, devpts, mqueue) on one of the rootfs's own
    // directories. The mount point must be a real directory (a symlink or file there is
    // refused, a missing one created), and after the mount the target must carry `magic`.
    kApiMount,
    kMount,       // a caller's file system: mount(source, target, fstype, flags | MS_NODEV, data)
    kBind,        // recursive bind of host `source`, nodev; read-only, nosuid, noexec throughout with MS_RDONLY, MS_NOSUID, MS_NOEXEC in flags
    kDevice,      // bind the host node `source` onto an empty file at target (/dev itself is nodev)
    kSymlink,     // symlink `source` at target
    // Beneath the fresh proc or sys mount (`base`), or a path of the image (base kRootfs,
    // resolved inside the root): /dev/null bound over a file, an empty read-only tmpfs over a
    // directory.
    kMask,
    kReadOnly,    // target beneath `base`, with everything under it, made read-only
    // A user's --bind or --volume: the detached tree `tree_fd` (runtime/binds.h, made by the
    // parent) attached at target, missing directories made inside the rootfs.
    kBindTree,
    // A user's --tmpfs: tmpfs with `data`, nosuid and nodev, missing directories made.
    kTmpfs,
  };
  // What a mask or read-only step is resolved beneath: the mount root of the container's own
  // procfs or sysfs, never a path of the image.
  enum class Base { kRootfs, kProc, kSys };
  Kind kind;
  std::string target;
  std::string source;
  std::string fstype;
  std::string data;
  unsigned long flags = 0;
  Base base = Base::kRootfs;
  int64_t magic = 0;             // kApiMount: the statfs f_type the mount must have
  bool bind_host_sys = false;    // kApiMount of sysfs: bind the host's /sys (read-only) if refused
  bool keep_as_base = false;     // kApiMount: this mount is `base` for the masks after it
  bool target_is_file = false;   // create a file rather than a directory as mount point
  int bind_index = -1;           // kBindTree: index into ContainerSpec::binds
  int tree_fd = -1;              // kBindTree: set by the parent once the tree is open
  // kBindTree of a staged bind (runtime/bind_stage.h): its entry in the stage, which the child
  // clones (keeping the kernel's locks on its flags) instead of attaching tree_fd.
  std::string stage_name;
};

struct RootfsPlan {
  std::string rootfs;  // absolute host path
  std::vector<RootfsStep> steps;
  // The binds are staged (runtime/bind_stage.h): a staging tmpfs covers `rootfs` in the child's
  // mount namespace. `staged_rootfs` is the staged copy of the rootfs directory to bind instead
  // of `rootfs`, or empty when the rootfs comes as an idmapped tree laid over the stage.
  bool staged = false;
  std::string staged_rootfs;
  // Called in the child after every step and before pivot_root (OCI createContainer hooks run
  // there); false fails the setup (it reported why). Async-signal-safe, like the child.
  bool (*before_pivot)(const void* arg) = nullptr;
  const void* before_pivot_arg = nullptr;
};

// Builds the plan: /proc, /sys (read-only), /dev (nodev tmpfs with the nodes of
// DefaultDevices() and spec.devices bound from the host, devpts, ptmx, shm, mqueue), /run and
// /tmp tmpfs, the caller's extra mounts, the user's binds and tmpfs (parents before children:
// by the depth of their target), and the OCI default masked and read-only paths.
// `console_path` is the host path of the pty slave to bind on /dev/console, or empty.
RootfsPlan MakeRootfsPlan(const ContainerSpec& spec, const std::string& console_path);

// The OCI runtime-spec defaults that corral masks and makes read-only.
const std::vector<std::string>& MaskedPaths();
const std::vector<std::string>& ReadOnlyPaths();

// Child side: makes mounts private, bind-mounts the rootfs on itself (nodev throughout, setuid
// left alone), carries out every step, pivot_roots and detaches the old root. On failure writes a ChildError to `error_fd` and
// returns false. Async-signal-safe: no allocation. `stage_fd` is an O_PATH fd of the bind
// stage's root when plan.staged (opened before anything covered it), else -1; it is closed here.
bool SetUpRootfsInChild(const RootfsPlan& plan, int error_fd, int stage_fd = -1);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_ROOTFS_H_
