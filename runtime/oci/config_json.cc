// config.json field helpers: typed reads that name the field and the value in their errors.
#include "runtime/oci/config_json.h"

#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "runtime/capabilities.h"


namespace corral::runtime::oci {


// What the error messages show of a bad value: its JSON, cut short.
std::string Show(const json& value) {
  std::string text = value.dump();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

absl::Status Bad(absl::string_view field, absl::string_view what, const json& value) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": ", what, ", got ", Show(value)));
}

absl::Status BadText(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": ", what));
}

std::string Field(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}
std::string Index(absl::string_view parent, size_t i) { return absl::StrCat(parent, "[", i, "]"); }

absl::Status CheckObject(const json& value, absl::string_view field) {
  if (!value.is_object()) return Bad(field, "expected an object", value);
  return absl::OkStatus();
}

absl::Status GetString(const json& object, const char* key, absl::string_view parent, std::string* out,
                       bool required) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) return BadText(Field(parent, key), "missing (a string is required)");
    return absl::OkStatus();
  }
  if (!it->is_string()) return Bad(Field(parent, key), "expected a string", *it);
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetBool(const json& object, const char* key, absl::string_view parent, bool* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return Bad(Field(parent, key), "expected true or false", *it);
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status GetStrings(const json& object, const char* key, absl::string_view parent, std::vector<std::string>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  std::string field = Field(parent, key);
  if (!it->is_array()) return Bad(field, "expected an array of strings", *it);
  out->clear();
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) return Bad(Index(field, i), "expected a string", (*it)[i]);
    out->push_back((*it)[i].get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status GetStringMap(const json& object, const char* key, absl::string_view parent,
                          std::map<std::string, std::string>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  std::string field = Field(parent, key);
  RETURN_IF_ERROR(CheckObject(*it, field));
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) return Bad(Field(field, k), "expected a string", v);
    (*out)[k] = v.get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status ParseIdMappings(const json& object, const char* key, absl::string_view parent,
                             std::vector<IdMapping>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  std::string field = Field(parent, key);
  if (!it->is_array()) return Bad(field, "expected an array of {containerID, hostID, size}", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    std::string f = Index(field, i);
    RETURN_IF_ERROR(CheckObject(m, f));
    IdMapping mapping;
    for (const char* k : {"containerID", "hostID", "size"}) {
      if (!m.contains(k)) return BadText(Field(f, k), "missing");
    }
    RETURN_IF_ERROR(GetNumber(m["containerID"], Field(f, "containerID"), &mapping.container_id));
    RETURN_IF_ERROR(GetNumber(m["hostID"], Field(f, "hostID"), &mapping.host_id));
    RETURN_IF_ERROR(GetNumber(m["size"], Field(f, "size"), &mapping.count));
    if (mapping.count == 0) return Bad(Field(f, "size"), "must be at least 1", m["size"]);
    if (uint64_t{mapping.container_id} + mapping.count > (uint64_t{1} << 32) ||
        uint64_t{mapping.host_id} + mapping.count > (uint64_t{1} << 32)) {
      return Bad(f, "range passes 2^32", m);
    }
    out->push_back(mapping);
  }
  return absl::OkStatus();
}

}  // namespace corral::runtime::oci
