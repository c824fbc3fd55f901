// What a user asks to see inside a container besides its image: host directories bound in
// (--bind), named volumes (--volume, bound from the volume store) and tmpfs mounts (--tmpfs),
// as parsed from the command line, the D-Bus options and the persisted config. Pure text.
#ifndef CORRAL_RUNTIME_STORAGE_SPEC_H_
#define CORRAL_RUNTIME_STORAGE_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::runtime {

// A host directory or file bound at `target` inside the container: recursive (its submounts
// come along), nodev and nosuid, private propagation, read-only on every submount with
// `read_only`. `idmap`: seen through an idmapped mount with the container's own id map, so a
// host file owned by host uid N (N < 65536) is owned by uid N inside (host root's files by
// the container's root), and what uid N inside writes lands on disk as host uid N. Without it,
// in a user namespace, host ids outside the container's range show as nobody (65534).
struct BindSpec {
  std::string source;  // absolute host path
  std::string target;  // absolute path inside the container
  bool read_only = false;
  bool idmap = false;
  // Set by corral itself for a volume's data directory, which lives in corral's own store:
  // a user's bind source there is refused (never parsed from text).
  bool corral_store = false;
  // >= 0: a detached mount already open (a volume's, VolumeStore::OpenTree), configured and
  // attached instead of a clone of `source` (then only named in messages). Not owned.
  int ready_tree = -1;
};

// A tmpfs at `target`, nosuid and nodev, owned by the container's root. size 0: the kernel's
// default (half of RAM).
struct TmpfsSpec {
  std::string target;
  uint64_t size_bytes = 0;
  uint32_t mode = 01777;
};

// A named volume (corralctl volume create) at `target`.
struct VolumeMountSpec {
  std::string name;
  std::string target;
  bool read_only = false;
};

// "HOST:CTR[:OPTIONS]", OPTIONS a comma list of ro, rw and idmap ("ro,idmap"). Paths may not
// contain ':'. Errors name the text and what is wrong with it.
absl::StatusOr<BindSpec> ParseBindSpec(absl::string_view text);
// The normalized text: "HOST:CTR:ro" or "HOST:CTR:rw", ",idmap" appended when set.
std::string FormatBindSpec(const BindSpec& bind);

// "CTR[:size=64M,mode=1777]".
absl::StatusOr<TmpfsSpec> ParseTmpfsSpec(absl::string_view text);
std::string FormatTmpfsSpec(const TmpfsSpec& tmpfs);
// The tmpfs mount data: "mode=1777[,size=N]".
std::string TmpfsMountData(const TmpfsSpec& tmpfs);

// "NAME:CTR[:ro|rw]".
absl::StatusOr<VolumeMountSpec> ParseVolumeMountSpec(absl::string_view text);
std::string FormatVolumeMountSpec(const VolumeMountSpec& volume);

// [A-Za-z0-9][A-Za-z0-9_.-]{0,63}, as container names.
absl::Status ValidateVolumeName(absl::string_view name);

// An absolute container path with no "..", not "/" itself and not under /proc or /sys (the
// kernel's interfaces, masked by corral); returned without repeated or trailing slashes.
absl::StatusOr<std::string> NormalizeMountTarget(absl::string_view what, absl::string_view path);

// No target twice among the binds, tmpfs and volumes.
absl::Status CheckDistinctTargets(const std::vector<std::string>& targets);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_STORAGE_SPEC_H_
