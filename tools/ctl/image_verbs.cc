// corralctl's local image verbs (image build, image import of a tarball) and the two that copy
// a stopped container's files out: commit (as an image) and export (as a tarball).
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "dbus/container_config.h"
#include "tools/ctl/bus.h"
#include "tools/ctl/copy.h"
#include "tools/ctl/copy_progress.h"
#include "tools/ctl/verbs.h"
#include "tools/images/busybox_image.h"
#include "tools/images/debian_image.h"
#include "tools/images/image_store.h"
#include "tools/images/progress.h"

namespace corral::tools::ctl {
namespace {

sd_bus* g_cp_bus = nullptr;

}  // namespace

void SetCopyBus(sd_bus* bus) { g_cp_bus = bus; }

int ImageBuild(const std::string& images_dir, const std::vector<std::string>& args) {
  if (args.empty()) return Usage("usage: corralctl image build busybox|debian [options]");
  if (args[0] == "busybox") {
    if (args.size() != 1) return Usage("image build busybox takes no options");
    absl::StatusOr<std::string> rootfs = images::BuildBusyboxImage(images_dir);
    if (!rootfs.ok()) return Fail(rootfs.status().message());
    ::printf("built image busybox: %s\n", rootfs->c_str());
    return 0;
  }
  if (args[0] != "debian") return Usage(absl::StrCat("unknown image \"", args[0], "\" (known: busybox, debian)"));
  images::DebianOptions options;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return Usage(absl::StrCat("image build debian: ", a, " needs a value"));
    const std::string& v = args[++i];
    if (a == "--suite") {
      options.suite = v;
    } else if (a == "--mirror") {
      options.mirror = v;
    } else if (a == "--variant") {
      options.variant = v;
    } else if (a == "--name") {
      options.name = v;
    } else {
      return Usage(absl::StrCat("image build debian: unknown option \"", a, "\""));
    }
  }
  absl::StatusOr<std::string> rootfs = images::BuildDebianImage(images_dir, options);
  if (!rootfs.ok()) return Fail(rootfs.status().message());
  ::printf("built image %s (%s, %s): %s\n", options.name.c_str(), options.suite.c_str(), options.variant.c_str(),
           rootfs->c_str());
  return 0;
}

int ImageImport(const std::string& images_dir, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("usage: corralctl image import NAME TARBALL");
  absl::StatusOr<std::string> rootfs = images::ImportTarball(images_dir, args[0], args[1]);
  if (!rootfs.ok()) return Fail(rootfs.status().message());
  ::printf("imported image %s: %s\n", args[0].c_str(), rootfs->c_str());
  return 0;
}

// What cp needs of container `name`: running, its leader; stopped, its overlay's layers
// (from its config: corrald mounts nothing for a stopped container).
absl::StatusOr<CpTarget> FindForCopy(const std::string& name) {
  absl::StatusOr<std::vector<Property>> properties = ContainerProperties(g_cp_bus, name);
  if (!properties.ok()) return properties.status();
  CpTarget target;
  std::string state;
  for (const Property& p : *properties) {
    if (p.name == "State") state = p.text;
    if (p.name == "Leader") absl::SimpleAtoi(p.text, &target.leader);
  }
  target.running = state == "running" && target.leader > 0;
  const char* lib = ::getenv("CORRAL_LIB_DIR");
  target.lib_dir = absl::StrCat(lib != nullptr ? lib : "/var/lib/corral", "/containers/", name);
  absl::StatusOr<std::string> text = ReadFile(target.lib_dir + "/config");
  if (!text.ok()) return text.status();
  absl::StatusOr<dbus::ContainerConfig> config = dbus::ParseConfig(*text);
  if (!config.ok()) return config.status();
  target.base = config->privileged ? 0 : config->uid_base;
  target.image_rootfs = config->image_rootfs;
  target.image_layers = config->image_layers;
  if (!target.running && state != "stopped") {
    return absl::FailedPreconditionError(absl::StrCat("container ", name, " is ", state, ": try again when it runs or has stopped"));
  }
  return target;
}

// corralctl commit NAME IMAGE: a stopped container's root file system as a new image, put in
// place whole (images::BuildImage).
int Commit(const std::string& images_dir, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("usage: corralctl commit NAME IMAGE");
  if (absl::Status valid = images::ValidateImageName(args[1]); !valid.ok()) return Usage(absl::StrCat("commit: ", valid.message()));
  if (::geteuid() != 0) return Fail("commit: only root may read a container's files");
  absl::StatusOr<CpTarget> target = FindForCopy(args[0]);
  if (!target.ok()) return Fail(absl::StrCat("commit: ", target.status().message()));
  if (target->running) return Fail(absl::StrCat("commit: container ", args[0], " is running: stop it first"));
  absl::StatusOr<std::string> rootfs = images::BuildImage(images_dir, args[1], [&](const std::string& staging) {
    return WithStoppedRoot(*target, [&](const ContainerSide& side) { return CopyRootInto(side, staging); });
  });
  if (!rootfs.ok()) return Fail(absl::StrCat("commit: ", rootfs.status().message()));
  ::printf("committed %s as image %s: %s\n", args[0].c_str(), args[1].c_str(), rootfs->c_str());
  return 0;
}

// corralctl export NAME FILE.tar[.zst]: a stopped container's root file system as a tarball
// (what `image import` takes). The tree is copied out first (RESOLVE_IN_ROOT, as cp), into a
// private directory next to FILE, and only that copy, no longer the container's, is tarred.
int Export(const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("usage: corralctl export NAME FILE.tar[.zst]");
  if (::geteuid() != 0) return Fail("export: only root may read a container's files");
  absl::StatusOr<CpTarget> target = FindForCopy(args[0]);
  if (!target.ok()) return Fail(absl::StrCat("export: ", target.status().message()));
  if (target->running) return Fail(absl::StrCat("export: container ", args[0], " is running: stop it first"));
  const std::string file = args[1];
  std::string scratch = file + ".export.XXXXXX";
  if (::mkdtemp(scratch.data()) == nullptr) return Fail(absl::StrCat("export: mkdtemp ", scratch, ": ", std::strerror(errno)));
  std::string tree = scratch + "/rootfs";
  absl::Status done = ::mkdir(tree.c_str(), 0755) == 0 ? absl::OkStatus() : absl::InternalError(std::strerror(errno));
  if (done.ok()) {
    CopyProgress progress(absl::StrCat("exporting ", args[0], ": copying"));  // tools/ctl/copy_progress.h
    done = WithStoppedRoot(*target, [&](const ContainerSide& side) { return CopyRootInto(side, tree); });
  }
  std::string partial = file + ".partial";
  if (done.ok()) {
    std::vector<std::string> argv = {"tar", "--numeric-owner", "-cp", "-f", partial, "-C", tree, "."};
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".zst") == 0) argv.insert(argv.begin() + 1, "--zstd");
    done = images::RunProgram(argv, images::RunProgress{absl::StrCat("exporting ", args[0], ": archiving"), "", false});
  }
  if (done.ok() && ::rename(partial.c_str(), file.c_str()) != 0) done = absl::InternalError(std::strerror(errno));
  ::unlink(partial.c_str());
  RemoveTree(scratch).IgnoreError();
  if (!done.ok()) return Fail(absl::StrCat("export: ", done.message()));
  ::printf("exported %s to %s\n", args[0].c_str(), file.c_str());
  return 0;
}

}  // namespace corral::tools::ctl
