// corralctl: the command line for corral. Image verbs work on the local image store; the
// container verbs talk to corrald over D-Bus (issue 4).
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/images/busybox_image.h"

namespace corral::tools {
namespace {

constexpr char kUsage[] = R"(usage: corralctl COMMAND [ARGS...]
Image commands:
  image build busybox     build the busybox image from Debian's busybox-static
  images                  list the images
Options:
  --images-dir DIR        image store (default /var/lib/corral/images, or $CORRAL_IMAGES_DIR)
)";

int Fail(absl::string_view message, int code = 1) {
  ::fprintf(stderr, "corralctl: %s\n", std::string(message).c_str());
  return code;
}

int ImageBuild(const std::string& images_dir, const std::vector<std::string>& args) {
  if (args.size() != 1) return Fail("usage: corralctl image build busybox", 2);
  if (args[0] == "busybox") {
    absl::StatusOr<std::string> rootfs = images::BuildBusyboxImage(images_dir);
    if (!rootfs.ok()) return Fail(rootfs.status().message());
    ::printf("built image busybox: %s\n", rootfs->c_str());
    return 0;
  }
  if (args[0] == "debian") return Fail("image build debian is not yet supported (issue 5)");
  return Fail(absl::StrCat("unknown image \"", args[0], "\" (known: busybox)"), 2);
}

int Images(const std::string& images_dir) {
  ::printf("%-16s %s\n", "NAME", "ROOTFS");
  for (const char* name : {"busybox", "debian"}) {
    std::string rootfs = absl::StrCat(images_dir, "/", name, "/rootfs");
    struct stat st;
    if (::stat(rootfs.c_str(), &st) == 0) ::printf("%-16s %s\n", name, rootfs.c_str());
  }
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_dir = ::getenv("CORRAL_IMAGES_DIR");
  std::string images_dir = env_dir != nullptr ? env_dir : images::kDefaultImagesDir;
  if (args.size() >= 2 && args[0] == "--images-dir") {
    images_dir = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    ::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "image" && args.size() >= 2 && args[1] == "build") {
    return ImageBuild(images_dir, std::vector<std::string>(args.begin() + 2, args.end()));
  }
  if (args[0] == "images") return Images(images_dir);
  return Fail(absl::StrCat("unknown command \"", args[0], "\"; container commands come with corrald (see --help)"), 2);
}

}  // namespace
}  // namespace corral::tools

int main(int argc, char** argv) { return corral::tools::Main(argc, argv); }
