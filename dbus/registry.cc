#include "dbus/registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/directory_syncs.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "common/status_macros.h"
#include "dbus/error_kind.h"
#include "runtime/spec.h"
#include "runtime/userns.h"

namespace corral::dbus {

absl::string_view ContainerStateName(ContainerState state) {
  switch (state) {
    case ContainerState::kStopped:
      return "stopped";
    case ContainerState::kStarting:
      return "starting";
    case ContainerState::kRunning:
      return "running";
    case ContainerState::kStopping:
      return "stopping";
    case ContainerState::kBroken:
      return "broken";
  }
  return "stopped";
}

absl::Status Registry::Load(std::vector<std::string>* problems) {
  DIR* dir = ::opendir(paths_.lib_root.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError(absl::StrCat("open ", paths_.lib_root));
  }
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    ContainerPaths container_paths = ContainerPaths::For(paths_.lib_root, paths_.run_root, name);
    absl::StatusOr<std::string> text = ReadFile(container_paths.config());
    absl::StatusOr<ContainerConfig> config = text.ok() ? ParseConfig(*text) : text.status();
    if (!config.ok() || config->name != name) {
      std::string problem = config.ok() ? "names another container" : std::string(config.status().message());
      problems->push_back(absl::StrCat(container_paths.config(), ": ", problem));
      // Listed as broken, so that its name is neither lost nor reused and `rm` can clear it;
      // a directory whose name no container may have is not corral's and stays unlisted.
      if (!runtime::ValidateContainerName(name).ok()) continue;
      auto broken = std::make_unique<ContainerRecord>();
      broken->config.name = name;
      broken->config.network = NetworkMode::kBridge;  // unknown: whatever lease it had goes at rm
      broken->paths = container_paths;
      broken->state = ContainerState::kBroken;
      broken->problem = absl::StrCat(container_paths.config(), ": ", problem);
      containers_[name] = std::move(broken);
      continue;
    }
    auto record = std::make_unique<ContainerRecord>();
    record->config = std::move(*config);
    record->paths = container_paths;
    // The config is the record of its range: put it back into a pool state that lost it.
    if (record->config.uid_base != 0) {
      absl::StatusOr<runtime::IdPool> pool = Pool();
      absl::Status claimed = pool.ok() ? pool->Claim(IdOwner(name), record->config.uid_base) : pool.status();
      if (!claimed.ok()) problems->push_back(absl::StrCat(container_paths.config(), ": ", claimed.message()));
    }
    containers_[name] = std::move(record);
  }
  ::closedir(dir);
  return absl::OkStatus();
}

absl::StatusOr<ContainerRecord*> Registry::Create(ContainerConfig config) {
  RETURN_IF_ERROR(ValidateConfig(config));
  if (containers_.count(config.name)) {
    return absl::AlreadyExistsError(absl::StrCat("a container named ", config.name, " exists already"));
  }
  // An image is a name in the store or an absolute directory; anything else ("../x",
  // "a/b") must not become a path under the store.
  if (config.image.front() != '/' && !runtime::ValidateContainerName(config.image).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image \"", config.image, "\" is neither an image name (busybox, debian, ...) nor an absolute directory"));
  }
  // A layered image's top layer was set with its layers (dbus/image_defaults.h).
  if (config.image_layers.empty()) {
    config.image_rootfs = config.image.front() == '/' ? config.image
                                                      : absl::StrCat(paths_.images_root, "/", config.image, "/rootfs");
  }
  struct stat st;
  if (::stat(config.image_rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("image ", config.image, ": no root file system at ", config.image_rootfs,
                                            config.image.front() == '/' ? "" : " (build it with `corralctl image build`)"));
  }
  auto record = std::make_unique<ContainerRecord>();
  record->paths = ContainerPaths::For(paths_.lib_root, paths_.run_root, config.name);
  record->config = std::move(config);
  // The pool is read (and checked) before anything is made, so a bad pool config or a full
  // pool leaves nothing.
  std::optional<runtime::IdPool> pool;
  if (!record->config.privileged) {
    ASSIGN_OR_RETURN(pool, Pool());
  }
  // The directory is the claim: mkdir fails if another corrald made it meanwhile.
  RETURN_IF_ERROR(MakeDirectories(paths_.lib_root, 0700));
  if (::mkdir(record->paths.lib_dir.c_str(), 0700) != 0) {
    return ErrnoError(absl::StrCat("create ", record->paths.lib_dir));
  }
  // Three fsyncs make the container survive a power cut: the config (before its rename), its
  // directory (the config's entry) and lib_root (the directory's entry). Only the first two
  // are ordered (a rename on disk ahead of the data could leave an empty config); lib_root's
  // entry changed with the mkdir above, so its fsync starts now and overlaps the config's
  // write, and both directory fsyncs are joined before Create returns: once the caller hears
  // of the container, all three are on disk. (The id allocation needs none: the config is the
  // durable record of the range, and Load claims it back into a pool that lost it.)
  DirectorySyncs syncs;
  if (!DurableWritesDisabled()) syncs.Sync(paths_.lib_root);
  if (pool) {
    absl::StatusOr<runtime::IdAllocation> ids = pool->Allocate(IdOwner(record->config.name));
    if (!ids.ok()) {
      syncs.Wait().IgnoreError();
      RemoveTree(record->paths.lib_dir).IgnoreError();
      return ids.status();
    }
    record->config.uid_base = ids->base;
  }
  absl::Status written = WriteFileAtomically(record->paths.config(), FormatConfig(record->config), 0600,
                                             Durability::kCrashSafe, &syncs);
  // Joined on failure too (no thread outlives the attempt); an fsync that failed (EIO) fails
  // the create, as a config that may vanish at a power cut is no created container.
  absl::Status synced = syncs.Wait();
  if (written.ok()) written = synced;
  if (!written.ok()) {
    RemoveTree(record->paths.lib_dir).IgnoreError();
    if (pool) pool->Release(IdOwner(record->config.name)).IgnoreError();
    return written;
  }
  last_create_synced_dirs_ = syncs.synced();
  ContainerRecord* result = record.get();
  containers_[result->config.name] = std::move(record);
  return result;
}

absl::Status Registry::Remove(const std::string& name) {
  ContainerRecord* record = Find(name);
  if (record == nullptr) return NoSuchContainerError(name);
  const bool broken = record->state == ContainerState::kBroken;
  if (record->state != ContainerState::kStopped && !broken) {
    return absl::FailedPreconditionError(absl::StrCat("container ", name, " is ", ContainerStateName(record->state)));
  }
  RETURN_IF_ERROR(IgnoreNotFound(RemoveTree(record->paths.run_dir)));
  RETURN_IF_ERROR(IgnoreNotFound(RemoveTree(record->paths.lib_dir)));
  if (broken) {
    // Its config, and with it the record of its range, is lost: the pool frees by owner.
    absl::StatusOr<runtime::IdPool> pool = Pool();
    if (pool.ok()) IgnoreNotFound(pool->Release(IdOwner(name))).IgnoreError();
    containers_.erase(name);
    return absl::OkStatus();
  }
  // Freed only once its files are gone: a block is never handed on while the old container's
  // upper layer, owned by it, still exists.
  if (record->config.uid_base != 0) {
    absl::StatusOr<runtime::IdPool> pool = Pool();
    absl::Status released = pool.ok() ? pool->Release(IdOwner(name)) : pool.status();
    containers_.erase(name);
    return Annotate(released, absl::StrCat("container ", name, " removed, but its uid range is still recorded"));
  }
  containers_.erase(name);
  return absl::OkStatus();
}

absl::StatusOr<runtime::IdPool> Registry::Pool() const {
  ASSIGN_OR_RETURN(runtime::IdPoolConfig config,
                   runtime::LoadIdPoolConfig(paths_.idmap_config.empty() ? runtime::IdPoolConfigPath()
                                                                         : paths_.idmap_config));
  return runtime::IdPool(std::move(config));
}

std::vector<std::string> Registry::CheckUserNamespaces() const {
  std::vector<std::string> warnings;
  absl::StatusOr<runtime::IdPool> pool = Pool();
  if (!pool.ok()) {
    warnings.push_back(absl::StrCat("user namespace pool: ", pool.status().message()));
    return warnings;
  }
  struct stat st;
  if (::stat(paths_.images_root.c_str(), &st) != 0) return warnings;  // no image yet
  // What a start does to an image, on the store itself (the detached mount goes with its fd).
  const uint32_t base = pool->config().ranges.front().first;
  absl::StatusOr<UniqueFd> ns = runtime::MakeUserNamespace(runtime::BlockMap(base), runtime::BlockMap(base));
  absl::StatusOr<UniqueFd> tree =
      ns.ok() ? runtime::OpenIdmappedTree(paths_.images_root, ns->get(), /*read_only=*/true) : ns.status();
  if (!tree.ok()) {
    warnings.push_back(absl::StrCat("containers in user namespaces (the default) cannot start on the image store: ",
                                    tree.status().message()));
  }
  return warnings;
}

absl::Status Registry::EnsureIdRange(ContainerRecord* record) {
  ContainerConfig& config = record->config;
  if (config.privileged) return absl::OkStatus();
  ASSIGN_OR_RETURN(runtime::IdPool pool, Pool());
  if (config.uid_base != 0) {
    // The usual case, checked without the lock (the file is only ever replaced whole): the
    // pool still records the range as this container's. Otherwise it is recorded again, which
    // fails if someone else holds it now; the container then does not start on shared ids.
    ASSIGN_OR_RETURN(std::vector<runtime::IdAllocation> allocations, pool.List());
    for (const runtime::IdAllocation& a : allocations) {
      if (a.owner == IdOwner(config.name) && a.base == config.uid_base) return absl::OkStatus();
    }
    return Annotate(pool.Claim(IdOwner(config.name), config.uid_base),
                    absl::StrCat("container ", config.name, "'s uid range"));
  }
  ASSIGN_OR_RETURN(runtime::IdAllocation ids, pool.Allocate(IdOwner(config.name)));
  ContainerConfig updated = config;
  updated.uid_base = ids.base;
  absl::Status written = WriteFileAtomically(record->paths.config(), FormatConfig(updated), 0600);
  if (!written.ok()) {
    pool.Release(IdOwner(config.name)).IgnoreError();
    return written;
  }
  config = std::move(updated);
  return absl::OkStatus();
}

ContainerRecord* Registry::Find(const std::string& name) {
  auto it = containers_.find(name);
  return it == containers_.end() ? nullptr : it->second.get();
}

std::vector<ContainerRecord*> Registry::List() {
  std::vector<ContainerRecord*> out;
  for (auto& [name, record] : containers_) out.push_back(record.get());
  return out;
}

}  // namespace corral::dbus
