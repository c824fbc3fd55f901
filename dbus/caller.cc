#include "dbus/caller.h"

#include "absl/status/status.h"
#include "dbus/bus_errors.h"
#include "dbus/interface.h"
#include "runtime/spec.h"

namespace corral::dbus {

bool CallerIsRoot(sd_bus_message* m) {
  sd_bus_creds* creds = nullptr;
  uid_t euid = 1;
  // dbus-daemon vouches for the uid of the connection (SO_PEERCRED); the euid is only known
  // when sd-bus may read it from /proc, so take it when there and the uid otherwise.
  int q = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID, &creds);
  if (q >= 0 && sd_bus_creds_get_euid(creds, &euid) < 0) q = sd_bus_creds_get_uid(creds, &euid);
  sd_bus_creds_unref(creds);
  return q >= 0 && euid == 0;
}

bool RequireRoot(sd_bus_message* m, sd_bus_error* error, int* r) {
  if (CallerIsRoot(m)) return true;
  *r = SetError(error, kErrorAccessDenied, "permission denied: only root may change containers");
  return false;
}

bool MayReadPrivateProperties(sd_bus* bus, sd_bus_message* reply) {
  uint8_t type = 0;
  if (sd_bus_message_get_type(reply, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_RETURN) return false;
  sd_bus_message* call = sd_bus_get_current_message(bus);
  if (call == nullptr) return false;
  // `corralctl ls` reads every container's properties, one call each: ask the bus for a
  // sender's uid once, not once per container. A unique name is never reused on a bus, and
  // the uid behind it never changes. (The private socket has no sender names; its peer is
  // known from the socket, at no cost.)
  static std::string* last_sender = new std::string;
  static bool last_is_root = false;
  const char* sender = sd_bus_message_get_sender(call);
  if (sender != nullptr && *last_sender == sender) return last_is_root;
  bool is_root = CallerIsRoot(call);
  if (sender != nullptr) {
    *last_sender = sender;
    last_is_root = is_root;
  }
  return is_root;
}

bool ReadName(sd_bus_message* m, sd_bus_error* error, int* r, std::string* name) {
  const char* text = nullptr;
  *r = sd_bus_message_read(m, "s", &text);
  if (*r < 0) return false;
  absl::Status valid = runtime::ValidateContainerName(text);
  if (!valid.ok()) {
    *r = SetError(error, kErrorInvalidName, valid.message());
    return false;
  }
  *name = text;
  return true;
}

}  // namespace corral::dbus
