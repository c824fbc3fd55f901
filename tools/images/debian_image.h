// Debian-family images: debootstrap into the image store (`corralctl image build debian`), and
// rootfs tarballs such as Ubuntu's base tarball (`corralctl image import`).
#ifndef CORRAL_TOOLS_IMAGES_DEBIAN_IMAGE_H_
#define CORRAL_TOOLS_IMAGES_DEBIAN_IMAGE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::images {

struct DebianOptions {
  std::string suite = "bookworm";
  // Empty: the first Debian archive in the host's apt sources (deb.debian.org by default).
  std::string mirror;
  // "systemd" adds systemd, systemd-sysv and dbus to minbase so the image boots with --boot.
  std::string variant = "systemd";
  std::string name = "debian";
};

// The first archive URI of the host's apt sources: deb822 `URIs:` lines in
// /etc/apt/sources.list.d/*.sources or `deb URI SUITE` lines in /etc/apt/sources.list,
// skipping security archives. `sources` is their concatenated text.
std::string MirrorFromAptSources(absl::string_view sources);
std::string HostDebianMirror();

// debootstrap --variant=minbase [--include=...] SUITE STAGING MIRROR, then prepares the tree
// for containers (an empty machine-id so each boot gets its own, the hostname). Returns the
// rootfs path.
absl::StatusOr<std::string> BuildDebianImage(const std::string& images_dir, const DebianOptions& options);

// Unpacks a rootfs tarball (gzip, xz, zstd or plain, as tar recognizes it) as image NAME.
absl::StatusOr<std::string> ImportTarball(const std::string& images_dir, const std::string& name,
                                          const std::string& tarball);

}  // namespace corral::images

#endif  // CORRAL_TOOLS_IMAGES_DEBIAN_IMAGE_H_
