// User-namespace plumbing around a container start: a user namespace carrying a container's
// id map without the container (for idmapping its image before it exists), idmapped detached
// mounts (open_tree + mount_setattr MOUNT_ATTR_IDMAP) and attaching them, and the one-time
// shift of a directory tree written before containers had their own ids.
#ifndef CORRAL_RUNTIME_USERNS_H_
#define CORRAL_RUNTIME_USERNS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/spec.h"

namespace corral::runtime {

// The container's map: 0..65535 inside to base.. on the host, for uids and gids alike.
std::vector<IdMapping> BlockMap(uint32_t base);

// Writes /proc/PID/uid_map and gid_map (as root in the parent namespace, so no setgroups
// "deny" is needed).
absl::Status WriteIdMaps(pid_t pid, const std::vector<IdMapping>& uid_map, const std::vector<IdMapping>& gid_map);

// An fd of a fresh user namespace with these maps, made by one short-lived child (cloned with
// CLONE_NEWUSER, its maps written by us, then killed and reaped; the namespace lives on in the
// fd). For mount_setattr's userns_fd.
absl::StatusOr<UniqueFd> MakeUserNamespace(const std::vector<IdMapping>& uid_map,
                                           const std::vector<IdMapping>& gid_map);

// A detached copy of the tree at `path` (submounts included), idmapped through `userns_fd`:
// a file owned by host id N on disk is seen as owned by the namespace's map of N, and a file
// created through it by namespace uid U lands on disk as U. `read_only` adds MOUNT_ATTR_RDONLY.
// Where the kernel or file system cannot do it, the error names the step, the path and errno,
// and says that a privileged container (no user namespace) is the alternative.
absl::StatusOr<UniqueFd> OpenIdmappedTree(const std::string& path, int userns_fd, bool read_only);

// Attaches a detached tree (from OpenIdmappedTree) at `target` (move_mount).
absl::Status AttachTree(int tree_fd, const std::string& target);

// Adds `offset` to the owner and group of every entry under `dir` (itself included, not
// crossing mounts, not following symlinks) whose uid/gid is below 65536, keeping setuid and
// setgid bits that chown clears. Idempotent: entries at or above 65536 are left alone, so an
// interrupted shift is finished by the next one.
absl::Status ShiftOwnership(const std::string& dir, uint32_t offset);

// Checks that a process with host ids `uid`/`gid` (and no capability over host-owned files)
// can search every directory on the way to `path`: a container's root in its user namespace
// has to, to reach its rootfs and bind sources.
absl::Status CheckSearchableBy(const std::string& path, uid_t uid, gid_t gid);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_USERNS_H_
