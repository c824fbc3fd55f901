#include "tools/images/debian_image.h"

#include <dirent.h>
#include <sys/stat.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "tools/images/image_store.h"
#include "tools/images/progress.h"

namespace corral::images {

std::string MirrorFromAptSources(absl::string_view sources) {
  for (absl::string_view raw : absl::StrSplit(sources, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    absl::string_view uri;
    if (words.size() >= 2 && words[0] == "URIs:") uri = words[1];
    if (words.size() >= 3 && words[0] == "deb") uri = words[1][0] == '[' && words.size() >= 4 ? words[2] : words[1];
    if (!uri.empty() && !absl::StrContains(uri, "security") && absl::StartsWith(uri, "http")) {
      return std::string(uri);
    }
  }
  return "http://deb.debian.org/debian";
}

std::string HostDebianMirror() {
  std::string text;
  if (auto list = ReadFile("/etc/apt/sources.list"); list.ok()) text += *list;
  if (DIR* dir = ::opendir("/etc/apt/sources.list.d")) {
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (!absl::EndsWith(name, ".sources") && !absl::EndsWith(name, ".list")) continue;
      if (auto file = ReadFile("/etc/apt/sources.list.d/" + name); file.ok()) absl::StrAppend(&text, "\n", *file);
    }
    ::closedir(dir);
  }
  return MirrorFromAptSources(text);
}

namespace {

// What every booted container wants from its image.
absl::Status PrepareForContainers(const std::string& rootfs, const std::string& hostname) {
  // Empty, not absent: systemd then makes a transient id at each boot instead of a shared one.
  RETURN_IF_ERROR(WriteFileAtomically(rootfs + "/etc/machine-id", "", 0444));
  return WriteFileAtomically(rootfs + "/etc/hostname", hostname + "\n", 0644);
}

}  // namespace

absl::StatusOr<std::string> BuildDebianImage(const std::string& images_dir, const DebianOptions& options) {
  if (options.variant != "minbase" && options.variant != "systemd") {
    return absl::InvalidArgumentError(absl::StrCat("--variant \"", options.variant, "\" is not minbase or systemd"));
  }
  std::string mirror = options.mirror.empty() ? HostDebianMirror() : options.mirror;
  return BuildImage(images_dir, options.name, [&](const std::string& staging) -> absl::Status {
    std::vector<std::string> argv = {"debootstrap", "--variant=minbase"};
    if (options.variant == "systemd") argv.push_back("--include=systemd,systemd-sysv,dbus,iproute2");
    argv.insert(argv.end(), {options.suite, staging, mirror});
    RETURN_IF_ERROR(RunProgram(argv, RunProgress{"debootstrap", "", /*debootstrap_phases=*/true}));
    return PrepareForContainers(staging, options.name);
  });
}

absl::StatusOr<std::string> ImportTarball(const std::string& images_dir, const std::string& name,
                                          const std::string& tarball) {
  struct stat st;
  if (::stat(tarball.c_str(), &st) != 0) return ErrnoError(absl::StrCat("tarball ", tarball));
  return BuildImage(images_dir, name, [&](const std::string& staging) -> absl::Status {
    RETURN_IF_ERROR(RunProgram({"tar", "-x", "--numeric-owner", "--same-permissions", "-f", tarball, "-C", staging},
                               RunProgress{absl::StrCat("importing ", name), tarball}));
    struct stat etc;
    if (::stat((staging + "/etc").c_str(), &etc) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(tarball, " holds no root file system (no /etc at its top)"));
    }
    return absl::OkStatus();
  });
}

}  // namespace corral::images
