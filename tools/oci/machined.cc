#include "tools/oci/machined.h"

#include <systemd/sd-bus.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace corral::oci_cli {

namespace {

constexpr char kMachined[] = "org.freedesktop.machine1";
constexpr char kMachinedPath[] = "/org/freedesktop/machine1";
constexpr char kMachinedManager[] = "org.freedesktop.machine1.Manager";

// One synchronous call on a fresh system bus connection; `append` adds the arguments.
template <typename Append>
absl::Status CallMachined(const char* method, const std::string& what, Append append, const char* ignored_error) {
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_system(&bus); r < 0) return ErrnoError(-r, absl::StrCat(what, ": connect to the system bus"));
  struct Closer {
    sd_bus* bus;
    ~Closer() { sd_bus_flush_close_unref(bus); }
  } closer{bus};
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus, &call, kMachined, kMachinedPath, kMachinedManager, method);
  if (r >= 0) r = append(call);
  if (r < 0) {
    sd_bus_message_unref(call);
    return ErrnoError(-r, absl::StrCat(what, ": build ", method));
  }
  sd_bus_error error = SD_BUS_ERROR_NULL;
  r = sd_bus_call(bus, call, 10 * 1000 * 1000, &error, nullptr);
  sd_bus_message_unref(call);
  absl::Status status;
  if (r < 0 && !(ignored_error != nullptr && sd_bus_error_has_name(&error, ignored_error))) {
    status = absl::FailedPreconditionError(
        absl::StrCat(what, ": ", method, ": ", error.message != nullptr ? error.message : std::strerror(-r)));
  }
  sd_bus_error_free(&error);
  return status;
}

}  // namespace

bool WantsMachined(const std::map<std::string, std::string>& annotations) {
  auto it = annotations.find(kMachinedAnnotation);
  return it != annotations.end() && absl::AsciiStrToLower(it->second) == "true";
}

std::string MachineName(const std::string& id) {
  std::string name;
  for (char c : id) {
    if (name.size() == 64) break;
    bool ok = absl::ascii_isalnum(c) || c == '-' || c == '.';
    if (name.empty() && (c == '-' || c == '.')) continue;
    name.push_back(ok ? c : '-');
  }
  return name.empty() ? "corral-oci" : name;
}

absl::Status RegisterMachine(const std::string& name, pid_t leader, const std::string& root_directory) {
  return CallMachined(
      "RegisterMachine", absl::StrCat("register machine ", name),
      [&](sd_bus_message* call) {
        return sd_bus_message_append(call, "sayssus", name.c_str(), 0, "corral-oci", "container",
                                     static_cast<uint32_t>(leader), root_directory.c_str());
      },
      nullptr);
}

absl::Status UnregisterMachine(const std::string& name) {
  return CallMachined(
      "UnregisterMachine", absl::StrCat("unregister machine ", name),
      [&](sd_bus_message* call) { return sd_bus_message_append(call, "s", name.c_str()); },
      "org.freedesktop.machine1.NoSuchMachine");
}

}  // namespace corral::oci_cli
