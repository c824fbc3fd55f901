#include "dbus/storage_options.h"

#include <errno.h>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "runtime/binds.h"
#include "runtime/storage_spec.h"
#include "runtime/volume_store.h"

namespace corral::dbus {

bool IsStorageOption(const std::string& key) {
  return key == "Binds" || key == "IdmappedBinds" || key == "Tmpfs" || key == "Volumes";
}

int ReadStorageOption(sd_bus_message* m, const std::string& key, ContainerConfig* config, absl::Status* invalid) {
  const bool pairs = key == "Tmpfs";
  const char* type = pairs ? "a(ss)" : "a(ssb)";
  int r = sd_bus_message_enter_container(m, 'v', type);
  if (r == -ENXIO || r == 0) {
    *invalid = absl::InvalidArgumentError(absl::StrCat("option ", key, " must be of type ", type));
    return 0;
  }
  if (r < 0 || (r = sd_bus_message_enter_container(m, 'a', pairs ? "(ss)" : "(ssb)")) < 0) return r;
  for (;;) {
    const char* first = nullptr;
    const char* second = nullptr;
    int flag = 0;
    r = pairs ? sd_bus_message_read(m, "(ss)", &first, &second) : sd_bus_message_read(m, "(ssb)", &first, &second, &flag);
    if (r <= 0) break;
    if (!invalid->ok()) continue;  // the first bad entry is the one reported; read the rest
    if (key == "Binds" || key == "IdmappedBinds") {
      std::string text = absl::StrCat(first, ":", second, flag ? ":ro" : ":rw", key == "IdmappedBinds" ? ",idmap" : "");
      absl::StatusOr<runtime::BindSpec> bind = runtime::ParseBindSpec(text);
      if (!bind.ok()) *invalid = absl::InvalidArgumentError(absl::StrCat(key, ": ", bind.status().message()));
      else config->binds.push_back(runtime::FormatBindSpec(*bind));
    } else if (key == "Tmpfs") {
      std::string text = *second == '\0' ? std::string(first) : absl::StrCat(first, ":", second);
      absl::StatusOr<runtime::TmpfsSpec> tmpfs = runtime::ParseTmpfsSpec(text);
      if (!tmpfs.ok()) *invalid = absl::InvalidArgumentError(absl::StrCat(key, ": ", tmpfs.status().message()));
      else config->tmpfs.push_back(runtime::FormatTmpfsSpec(*tmpfs));
    } else {
      std::string text = absl::StrCat(first, ":", second, flag ? ":ro" : ":rw");
      absl::StatusOr<runtime::VolumeMountSpec> volume = runtime::ParseVolumeMountSpec(text);
      if (!volume.ok()) *invalid = absl::InvalidArgumentError(absl::StrCat(key, ": ", volume.status().message()));
      else config->volumes.push_back(runtime::FormatVolumeMountSpec(*volume));
    }
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);  // the array; the caller leaves the variant
}

absl::Status CheckStorageOnHost(const ContainerConfig& config, const std::string& volumes_root) {
  runtime::VolumeStore store(volumes_root);
  for (const std::string& text : config.volumes) {
    absl::StatusOr<runtime::VolumeMountSpec> volume = runtime::ParseVolumeMountSpec(text);
    if (!volume.ok()) return volume.status();
    absl::StatusOr<runtime::VolumeInfo> info = store.Get(volume->name);
    if (!info.ok()) return absl::InvalidArgumentError(absl::StrCat("Volumes: ", info.status().message()));
  }
  for (const std::string& text : config.binds) {
    absl::StatusOr<runtime::BindSpec> bind = runtime::ParseBindSpec(text);
    if (!bind.ok()) return bind.status();
    for (const std::string& dir : runtime::ForbiddenBindSources()) {
      if (bind->source == dir || absl::StartsWith(bind->source, dir + "/")) {
        return absl::InvalidArgumentError(absl::StrCat("bind ", bind->source, ": inside corral's own state (", dir,
                                                       "), which holds other containers' files; use a volume"));
      }
    }
    struct stat st;
    if (::stat(bind->source.c_str(), &st) != 0) {
      absl::Status status = ErrnoError(absl::StrCat("bind ", bind->source, " on ", bind->target, ": the source"));
      return absl::InvalidArgumentError(status.message());
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bind ", bind->source, ": neither a directory nor a regular file (devices: Devices)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corral::dbus
