// Named volumes: data that outlives containers, under /var/lib/corral/volumes/NAME. A volume
// is a directory (data/), or with a size an ext4 image file (disk.ext4) loop-mounted while a
// container uses it: the store is ext4 here, and a project quota would need it mounted with
// prjquota, which corral never remounts on a shared host. Files keep the ids the container
// sees (0..65535): an unprivileged container sees the volume through an idmapped mount with
// its own map, so every container, whatever its host range, sees the same owners.
#ifndef CORRAL_RUNTIME_VOLUME_STORE_H_
#define CORRAL_RUNTIME_VOLUME_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "runtime/spec.h"
#include "runtime/storage_spec.h"

namespace corral::runtime {

struct VolumeInfo {
  std::string name;
  uint64_t size_bytes = 0;  // 0: no limit (a directory)
  uint64_t used_bytes = 0;  // blocks allocated on the host: the directory's files, or the image's
  int64_t created_usec = 0;
};

// The store's directory: $CORRAL_VOLUMES_DIR, else /var/lib/corral/volumes.
std::string DefaultVolumesDir();

class VolumeStore {
 public:
  explicit VolumeStore(std::string root) : root_(std::move(root)) {}

  // A new volume; size_bytes 0 for a plain directory, else at least 8M (mkfs.ext4 of a sparse
  // image of that size). Nothing is left behind on failure.
  absl::StatusOr<VolumeInfo> Create(const std::string& name, uint64_t size_bytes);
  absl::StatusOr<VolumeInfo> Get(const std::string& name) const;
  absl::StatusOr<std::vector<VolumeInfo>> List() const;
  // Deletes the volume and its data (the caller checks no container uses it).
  absl::Status Remove(const std::string& name);

  // A detached mount of the volume's data, to be configured and attached as a bind
  // (BindSpec::ready_tree): a clone of data/, or the image's file system, mounted through a
  // loop device that clears itself when its last mount goes (LO_FLAGS_AUTOCLEAR). A sized
  // volume already in use by another container shares that loop device and file system.
  absl::StatusOr<UniqueFd> OpenTree(const std::string& name) const;

  std::string DirOf(const std::string& name) const { return root_ + "/" + name; }

 private:
  std::string root_;
};

// Opens each volume's tree and adds a bind of it to spec->binds: idmapped through the
// container's map when `spec` has a user namespace (so files keep the ids containers see),
// plain otherwise. The trees are kept open in *trees until the container has started.
absl::Status AddVolumeBinds(const VolumeStore& store, const std::vector<VolumeMountSpec>& volumes,
                            ContainerSpec* spec, std::vector<UniqueFd>* trees);

// Where `image` is attached now: the /dev/loopN whose backing file it is, or "".
std::string FindLoopDeviceOf(const std::string& image);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_VOLUME_STORE_H_
