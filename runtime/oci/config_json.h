// Inside the config.json parser (config.cc and its config_*.cc parts): typed field reads whose
// errors read "config.json: FIELD: WHAT, got VALUE", and the parsers of each section.
#ifndef CORRAL_RUNTIME_OCI_CONFIG_JSON_H_
#define CORRAL_RUNTIME_OCI_CONFIG_JSON_H_

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "runtime/oci/config.h"

namespace corral::runtime::oci {

using json = nlohmann::json;

// What the error messages show of a bad value: its JSON, cut short.
std::string Show(const json& value);
absl::Status Bad(absl::string_view field, absl::string_view what, const json& value);
absl::Status BadText(absl::string_view field, absl::string_view what);
std::string Field(absl::string_view parent, absl::string_view key);
std::string Index(absl::string_view parent, size_t i);
absl::Status CheckObject(const json& value, absl::string_view field);
absl::Status GetString(const json& object, const char* key, absl::string_view parent, std::string* out,
                       bool required = false);
absl::Status GetBool(const json& object, const char* key, absl::string_view parent, bool* out);
absl::Status GetStrings(const json& object, const char* key, absl::string_view parent, std::vector<std::string>* out);
absl::Status GetStringMap(const json& object, const char* key, absl::string_view parent,
                          std::map<std::string, std::string>* out);
absl::Status ParseIdMappings(const json& object, const char* key, absl::string_view parent, std::vector<IdMapping>* out);

template <typename T>
absl::Status GetNumber(const json& value, absl::string_view field, T* out) {
  if (!value.is_number_integer()) return Bad(field, "expected an integer", value);
  if constexpr (std::is_signed_v<T>) {
    if (value.is_number_unsigned()) {
      uint64_t v = value.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return Bad(field, "out of range", value);
      *out = static_cast<T>(v);
      return absl::OkStatus();
    }
    int64_t v = value.get<int64_t>();
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) || v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
      return Bad(field, "out of range", value);
    }
    *out = static_cast<T>(v);
  } else {
    if (!value.is_number_unsigned()) return Bad(field, "expected a non-negative integer", value);
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return Bad(field, "out of range", value);
    *out = static_cast<T>(v);
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status GetOptionalNumber(const json& object, const char* key, absl::string_view parent, std::optional<T>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  T value;
  RETURN_IF_ERROR(GetNumber(*it, Field(parent, key), &value));
  *out = value;
  return absl::OkStatus();
}

// The sections (config_mounts.cc, config_process.cc, config_linux.cc).
absl::Status ParseMount(const json& m, const std::string& field, const std::string& bundle, Mount* mount);
bool IsPropagation(const std::string& name);
absl::Status ParseProcessObject(const json& p, const std::string& field, Process* process);
absl::Status ParseResourcesObject(const json& r, const std::string& field, Resources* res);
absl::Status ParseSeccomp(const json& s, const std::string& field, Seccomp* seccomp);
// The "linux" object into `config` (namespaces, id maps, devices, resources, cgroupsPath,
// sysctl, seccomp, masked and read-only paths, rootfsPropagation).
absl::Status ParseLinuxObject(const json& l, Config* config);
// Namespaced sysctls and the namespace each needs (runc's validation): a key that is not in
// one would write the host's value.
absl::Status CheckSysctl(const Config& config, const std::string& key);

}  // namespace corral::runtime::oci

#endif  // CORRAL_RUNTIME_OCI_CONFIG_JSON_H_
