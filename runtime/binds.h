// Bind mounts of host paths into a container (--bind, and volumes): the parent checks the
// source on the host and makes a detached, fully configured copy of its mount tree
// (open_tree + mount_setattr: read-only on every submount, nodev, nosuid, private, idmapped
// when asked); the child only attaches it at a target resolved inside the rootfs.
#ifndef CORRAL_RUNTIME_BINDS_H_
#define CORRAL_RUNTIME_BINDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/storage_spec.h"

namespace corral::runtime {

// Host directories no user bind may come from: corral's own state (other containers' rootfs
// and upper layers, their runtime sockets, the image and volume stores, the id pool).
const std::vector<std::string>& ForbiddenBindSources();

// A detached mount tree ready to attach, and what its target must be.
struct BindTree {
  UniqueFd tree;          // from open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)
  bool is_file = false;   // the source is not a directory: the mount point is a file
};

// Opens `bind.source` on the host (following the host's symlinks: the path is the admin's),
// checks it exists and lies outside ForbiddenBindSources() (unless bind.corral_store), and
// clones its mount tree with the flags above. `userns_fd` (>= 0) is a user namespace with the
// container's map for bind.idmap; an idmap without one is refused.
absl::StatusOr<BindTree> OpenBindTree(const BindSpec& bind, int userns_fd);

// Child side, async-signal-safe: an O_PATH fd of `target` inside `root_fd` (RESOLVE_IN_ROOT),
// made first when missing (mkdir -p, 0755; the last one an empty file when `is_file`), or -1
// with errno.
int MakeMountPointInChild(int root_fd, const char* target, bool is_file);

// Child side, async-signal-safe: attaches `tree_fd` at `target` ("data/x", relative to the
// rootfs), resolved inside `root_fd` with RESOLVE_IN_ROOT so a symlink the image planted
// cannot send it outside; missing directories on the way are made (0755), and the mount point
// itself (a directory, or an empty file when `is_file`). Returns 0 or an errno, with the step
// that failed in *step.
int AttachBindInChild(int root_fd, const char* target, bool is_file, int tree_fd, const char** step);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_BINDS_H_
