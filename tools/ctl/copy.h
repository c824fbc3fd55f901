// corralctl cp: files and directories between the host and a container's root file system.
// Every container path is resolved with openat2(RESOLVE_IN_ROOT) from an fd of the container's
// root (a running one's /proc/LEADER/root, a stopped one's overlay mounted in a private mount
// namespace), so a symlink the container planted (absolute or through ..) leads inside it and
// never to a host path: the CVE-2019-14271 class (docker cp) stays closed. No host tar walks
// container paths. Modes are kept (setuid and setgid dropped on the way out); owners are
// mapped between the container's ids (0..65535) and its host range.
#ifndef CORRAL_TOOLS_CTL_COPY_H_
#define CORRAL_TOOLS_CTL_COPY_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace corral::tools {

// A container's side of a copy: its root and how its ids map (base 0: privileged, the
// host's ids as they are; else uid N inside is host uid base + N).
struct ContainerSide {
  int root_fd = -1;
  uint32_t base = 0;
};

// Host path `source` (a file, directory or symlink; a directory with everything under it) to
// `target` inside: into it when it is an existing directory, else as it. Owners: host uid N
// below 65536 becomes N inside, others root inside.
absl::Status CopyIntoContainer(const std::string& source, const ContainerSide& container, const std::string& target);

// Container path `source` to host path `target` (into it when it is an existing directory).
// Owners: uid N inside becomes host uid N (ids outside the range: nobody, 65534).
absl::Status CopyOutOfContainer(const ContainerSide& container, const std::string& source, const std::string& target);

// Everything in the container's root into the existing host directory `host_dir`, as an
// image keeps it: owners as ids inside, setuid and setgid kept, no mount below the root
// crossed. For commit and export.
absl::Status CopyRootInto(const ContainerSide& container, const std::string& host_dir);

// An O_PATH fd of a running container's root: /proc/LEADER/root, checked against the pidfd so
// a reused pid cannot stand in.
absl::StatusOr<UniqueFd> OpenRunningRoot(pid_t leader);

// The root of a stopped container's file system: its overlay (the image, idmapped through the
// container's map when base != 0, under its upper layer) mounted in the calling process's own,
// private mount namespace (unshare(CLONE_NEWNS): nothing of it reaches the host, and it goes
// with the process). `lib_dir` holds upper/ and work/. Call it in a child made for the copy.
// `image_layers` (top first): a layered (OCI) image's layers, mounted instead of image_rootfs.
absl::StatusOr<UniqueFd> MountStoppedRoot(const std::string& image_rootfs, const std::string& lib_dir, uint32_t base,
                                          const std::string& scratch_dir,
                                          const std::vector<std::string>& image_layers = {});

// corralctl cp SRC DST (one of them NAME:PATH): the verb, root only. Returns the exit status.
struct CpTarget {
  bool running = false;
  pid_t leader = 0;
  uint32_t base = 0;
  std::string image_rootfs;  // stopped ones
  std::vector<std::string> image_layers;  // stopped ones of a layered image, top first
  std::string lib_dir;
};
int CpCommand(const std::vector<std::string>& args, absl::StatusOr<CpTarget> (*find)(const std::string& name));

// Runs `work` on the root of stopped container `target` (mounted in a child with a private
// mount namespace, as cp does); refused for a running one.
absl::Status WithStoppedRoot(const CpTarget& target, const std::function<absl::Status(const ContainerSide&)>& work);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_COPY_H_
