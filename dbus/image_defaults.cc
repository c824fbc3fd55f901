#include "dbus/image_defaults.h"

#include <errno.h>
#include <sys/stat.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "runtime/spec.h"

namespace corral::dbus {

absl::Status ApplyImageRecord(const std::string& images_root, const images::oci::ImageRecord& record,
                              ContainerConfig* config) {
  std::vector<std::string> lowers = images::oci::LowerDirs(images_root, record);
  if (lowers.empty()) return absl::FailedPreconditionError(absl::StrCat("image ", config->image, " has no layers"));
  for (const std::string& dir : lowers) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("image ", config->image, ": its layer ", dir,
                                              " is not in the store (import the image again)"));
    }
  }
  config->image_layers = lowers;
  config->image_rootfs = lowers.front();
  if (config->command.empty()) {
    config->command = record.config.entrypoint;
    config->command.insert(config->command.end(), record.config.cmd.begin(), record.config.cmd.end());
  }
  // The image's environment first; an entry given at create replaces the image's of that key.
  std::set<std::string> given;
  for (const std::string& e : config->env) given.insert(e.substr(0, e.find('=')));
  std::vector<std::string> env;
  for (const std::string& e : record.config.env) {
    if (e.find('=') != std::string::npos && !given.count(e.substr(0, e.find('=')))) env.push_back(e);
  }
  env.insert(env.end(), config->env.begin(), config->env.end());
  config->env = std::move(env);
  if (config->cwd.empty()) config->cwd = record.config.working_dir;
  if (config->uid == 0 && config->gid == 0) {
    config->uid = record.uid;
    config->gid = record.gid;
  }
  if (config->stop_signal == 0) config->stop_signal = record.stop_signal;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<FileLock>> HoldImageStore(const std::string& images_root, const std::string& image) {
  if (image.empty() || image.front() == '/' || !runtime::ValidateContainerName(image).ok()) return std::nullopt;
  struct stat st;
  if (::stat(absl::StrCat(images_root, "/", image).c_str(), &st) != 0) return std::nullopt;
  // The store's directory as the importer makes it (root's, 0700): an image built before the
  // first import has none yet.
  const std::string layers = absl::StrCat(images_root, "/", images::oci::kLayersDirName);
  if (::mkdir(layers.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError(absl::StrCat("mkdir ", layers));
  absl::StatusOr<FileLock> lock = FileLock::TryTake(images::oci::StoreLockPath(images_root));
  if (lock.status().code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(absl::StrCat("the image store is busy: an `image import`, `image pull` or `image rm` is "
                                               "under way; create from image ", image,
                                               " again once it is done (nothing was created)"));
  }
  if (!lock.ok()) return lock.status();
  return std::optional<FileLock>(std::move(*lock));
}

absl::Status ApplyImageDefaults(const std::string& images_root, ContainerConfig* config) {
  if (config->image.empty() || config->image.front() == '/' || !runtime::ValidateContainerName(config->image).ok()) {
    return absl::OkStatus();  // a directory, or a bad name Registry::Create refuses
  }
  std::string path = absl::StrCat(images_root, "/", config->image, "/image.json");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::OkStatus();  // a single-tree image (or none)
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<images::oci::ImageRecord> record = images::oci::ParseRecord(*text);
  if (!record.ok()) return absl::Status(record.status().code(), absl::StrCat(path, ": ", record.status().message()));
  return ApplyImageRecord(images_root, *record, config);
}

}  // namespace corral::dbus
