#include "dbus/volume_methods.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dbus/interface.h"
#include "runtime/storage_spec.h"
#include "runtime/volume_store.h"

namespace corral::dbus {

namespace {

int Error(sd_bus_error* error, const char* name, const absl::Status& status) {
  return sd_bus_error_set(error, name, std::string(status.message()).c_str());
}

int StatusToError(sd_bus_error* error, const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return Error(error, kErrorNoSuchVolume, status);
    case absl::StatusCode::kAlreadyExists:
      return Error(error, kErrorVolumeExists, status);
    case absl::StatusCode::kInvalidArgument:
      return Error(error, kErrorInvalidArgument, status);
    case absl::StatusCode::kFailedPrecondition:
      return Error(error, kErrorVolumeInUse, status);
    default:
      return Error(error, kErrorFailed, status);
  }
}

}  // namespace

absl::StatusOr<std::vector<UniqueFd>> OpenVolumeTrees(const ContainerConfig& config, const std::string& volumes_root) {
  runtime::VolumeStore store(volumes_root);
  std::vector<UniqueFd> trees;
  for (const std::string& text : config.volumes) {
    absl::StatusOr<runtime::VolumeMountSpec> volume = runtime::ParseVolumeMountSpec(text);
    if (!volume.ok()) return volume.status();
    absl::StatusOr<UniqueFd> tree = store.OpenTree(volume->name);
    if (!tree.ok()) return absl::Status(tree.status().code(), absl::StrCat("volume ", volume->name, ": ", tree.status().message()));
    trees.push_back(std::move(*tree));
  }
  return trees;
}

std::vector<int> RawFds(const std::vector<UniqueFd>& fds) {
  std::vector<int> raw;
  for (const UniqueFd& fd : fds) raw.push_back(fd.get());
  return raw;
}

std::vector<std::string> VolumeUsers(Registry& registry, const std::string& name) {
  std::vector<std::string> users;
  for (ContainerRecord* record : registry.List()) {
    for (const std::string& text : record->config.volumes) {
      absl::StatusOr<runtime::VolumeMountSpec> volume = runtime::ParseVolumeMountSpec(text);
      if (volume.ok() && volume->name == name) {
        users.push_back(record->config.name);
        break;
      }
    }
  }
  std::sort(users.begin(), users.end());
  return users;
}

int HandleVolumeCall(sd_bus_message* m, Registry& registry, sd_bus_error* error) {
  runtime::VolumeStore store(registry.paths().volumes_root);
  const std::string member = sd_bus_message_get_member(m);
  int r;
  if (member == "CreateVolume") {
    const char* name = nullptr;
    uint64_t size = 0;
    if ((r = sd_bus_message_read(m, "st", &name, &size)) < 0) return r;
    absl::StatusOr<runtime::VolumeInfo> created = store.Create(name, size);
    if (!created.ok()) return StatusToError(error, created.status());
    return sd_bus_reply_method_return(m, "");
  }
  if (member == "RemoveVolume") {
    const char* name = nullptr;
    if ((r = sd_bus_message_read(m, "s", &name)) < 0) return r;
    if (absl::Status valid = runtime::ValidateVolumeName(name); !valid.ok()) return StatusToError(error, valid);
    std::vector<std::string> users = VolumeUsers(registry, name);
    if (!users.empty()) {
      return StatusToError(error, absl::FailedPreconditionError(absl::StrCat(
                                      "volume ", name, " is used by container", users.size() > 1 ? "s " : " ",
                                      absl::StrJoin(users, ", "), ": remove ", users.size() > 1 ? "them" : "it",
                                      " first (corralctl rm)")));
    }
    absl::Status removed = store.Remove(name);
    if (!removed.ok()) return StatusToError(error, removed);
    return sd_bus_reply_method_return(m, "");
  }
  // ListVolumes
  absl::StatusOr<std::vector<runtime::VolumeInfo>> volumes = store.List();
  if (!volumes.ok()) return StatusToError(error, volumes.status());
  sd_bus_message* reply = nullptr;
  r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(sttas)");
  for (const runtime::VolumeInfo& v : *volumes) {
    if (r >= 0) r = sd_bus_message_open_container(reply, 'r', "sttas");
    if (r >= 0) r = sd_bus_message_append(reply, "stt", v.name.c_str(), v.size_bytes, v.used_bytes);
    if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "s");
    for (const std::string& user : VolumeUsers(registry, v.name)) {
      if (r >= 0) r = sd_bus_message_append(reply, "s", user.c_str());
    }
    if (r >= 0) r = sd_bus_message_close_container(reply);
    if (r >= 0) r = sd_bus_message_close_container(reply);
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  sd_bus_message_unref(reply);
  return r;
}

}  // namespace corral::dbus
