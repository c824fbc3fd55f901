#include "tools/ctl/bus.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdint>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "dbus/interface.h"

namespace corral::tools {

constexpr char kPrivateSocket[] = "/run/corral/private";

namespace {

uint64_t NowUsec() {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
}

// Finishes the connection's handshake within `timeout_usec`. sd-bus would otherwise wait for
// it without limit in the first call (a stopped corrald still has its socket accept into the
// backlog, and never answers the AUTH).
int WaitUntilReady(sd_bus* bus, uint64_t timeout_usec) {
  uint64_t deadline = NowUsec() + timeout_usec;
  for (;;) {
    int r = sd_bus_is_ready(bus);
    if (r != 0) return r;
    r = sd_bus_process(bus, nullptr);
    if (r < 0) return r;
    if (r > 0) continue;
    uint64_t now = NowUsec();
    if (now >= deadline) return -ETIMEDOUT;
    r = sd_bus_wait(bus, deadline - now);
    if (r < 0 && r != -EINTR) return r;
  }
}

}  // namespace

absl::StatusOr<BusPtr> ConnectToCorrald() {
  sd_bus* bus = nullptr;
  if (::geteuid() == 0 && ::access(kPrivateSocket, F_OK) == 0) {
    int r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, absl::StrCat("unix:path=", kPrivateSocket).c_str());
    if (r >= 0) r = sd_bus_negotiate_fds(bus, 1);
    if (r >= 0) r = sd_bus_start(bus);
    uint64_t timeout = CallTimeoutUsec(nullptr);
    if (r >= 0) r = WaitUntilReady(bus, timeout);
    if (r == -ETIMEDOUT) {
      sd_bus_unref(bus);
      return absl::DeadlineExceededError(
          absl::StrCat("corrald did not answer in time (no handshake on ", kPrivateSocket, " in ", timeout / 1000000,
                       " s)"));
    }
    if (r >= 0) return BusPtr(bus);
    sd_bus_unref(bus);  // a socket left by a corrald that is gone: go through the bus
    bus = nullptr;
  }
  int r = sd_bus_open_system(&bus);
  if (r < 0) {
    return absl::UnavailableError(absl::StrCat("cannot connect to the system bus: ", std::strerror(-r)));
  }
  return BusPtr(bus);
}

std::string ErrorSentence(const sd_bus_error* error, int r) {
  if (error != nullptr && sd_bus_error_is_set(error)) {
    if (absl::StartsWith(error->name, "org.corral1.Error.")) return error->message ? error->message : error->name;
    if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
      return absl::StrCat("corrald is not running and could not be activated: ", error->message ? error->message : "");
    }
    if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED)) {
      return "permission denied: this needs root";
    }
    if (sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY) || sd_bus_error_has_name(error, SD_BUS_ERROR_TIMEOUT)) {
      return "corrald did not answer in time";
    }
    return absl::StrCat(error->message ? error->message : "", " (", error->name, ")");
  }
  if (r == -ETIMEDOUT) return "corrald did not answer in time";
  return std::strerror(r < 0 ? -r : r);
}

absl::StatusOr<MessagePtr> NewManagerCall(sd_bus* bus, const char* method) {
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus, &call, dbus::kBusName, dbus::kManagerPath, dbus::kManagerInterface,
                                         method);
  if (r < 0) return absl::InternalError(absl::StrCat("build a ", method, " call: ", std::strerror(-r)));
  return MessagePtr(call);
}

uint64_t CallTimeoutUsec(sd_bus_message* call) {
  constexpr uint64_t kSecond = 1000000;
  const char* member = call != nullptr ? sd_bus_message_get_member(call) : nullptr;
  absl::string_view method = member != nullptr ? member : "";
  // Exec's reply is the command's exit status: it takes as long as the command.
  if (method == "Exec") return UINT64_MAX;
  const char* override_seconds = std::getenv("CORRALCTL_TIMEOUT");
  uint64_t seconds = 0;
  if (override_seconds != nullptr && absl::SimpleAtoi(override_seconds, &seconds) && seconds > 0) {
    return seconds * kSecond;
  }
  if (method == "StartContainer") return 300 * kSecond;  // a boot, machined, a cold disk
  if (method == "StopContainer" || method == "StopContainerWithTimeout") return 120 * kSecond;
  return 30 * kSecond;
}

absl::StatusOr<MessagePtr> CallAndWait(sd_bus* bus, sd_bus_message* call, uint64_t timeout_usec) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call(bus, call, timeout_usec != 0 ? timeout_usec : CallTimeoutUsec(call), &error, &reply);
  if (r < 0) {
    std::string sentence = ErrorSentence(&error, r);
    bool denied = sd_bus_error_has_names(&error, SD_BUS_ERROR_ACCESS_DENIED, dbus::kErrorAccessDenied);
    sd_bus_error_free(&error);
    return denied ? absl::PermissionDeniedError(sentence) : absl::FailedPreconditionError(sentence);
  }
  return MessagePtr(reply);
}

std::string ContainerPath(const std::string& name) {
  char* path = nullptr;
  if (sd_bus_path_encode(dbus::kContainerPathPrefix, name.c_str(), &path) < 0) return dbus::kContainerPathPrefix;
  std::string result = path;
  free(path);
  return result;
}

namespace {

// The value of one property, `reply` inside its variant of type `contents`, as text (and a
// list, for arrays); a type this client does not know is skipped, its text left empty.
void ReadPropertyValue(sd_bus_message* reply, const char* contents, Property& p) {
  std::string signature = contents ? contents : "";
  if (signature == "s") {
    const char* v = nullptr;
    sd_bus_message_read(reply, "s", &v);
    p.text = v ? v : "";
  } else if (signature == "u" || signature == "i" || signature == "t" || signature == "b") {
    union {
      uint32_t u;
      int32_t i;
      uint64_t t;
      int b;
    } v{};
    sd_bus_message_read_basic(reply, signature[0], &v);
    p.text = signature == "u" ? absl::StrCat(v.u)
             : signature == "i" ? absl::StrCat(v.i)
             : signature == "t" ? absl::StrCat(v.t)
                                : (v.b ? "true" : "false");
    p.is_number = signature != "b";
  } else if (signature == "as") {
    char** strv = nullptr;
    sd_bus_message_read_strv(reply, &strv);
    for (char** s = strv; s && *s; ++s) {
      p.list.emplace_back(*s);
      free(*s);
    }
    free(strv);
    p.is_list = true;
    p.text = absl::StrJoin(p.list, ", ");
  } else if (signature == "a(sqq)") {
    sd_bus_message_enter_container(reply, 'a', "(sqq)");
    const char* protocol = nullptr;
    uint16_t host = 0, container = 0;
    while (sd_bus_message_read(reply, "(sqq)", &protocol, &host, &container) > 0) {
      p.list.push_back(absl::StrCat(protocol, ":", host, ":", container));
    }
    sd_bus_message_exit_container(reply);
    p.is_list = true;
    p.text = absl::StrJoin(p.list, ", ");
  } else if (signature == "(uu)") {  // UIDRange: first host id, count
    uint32_t first = 0, count = 0;
    sd_bus_message_read(reply, "(uu)", &first, &count);
    p.text = count == 0 ? "none" : absl::StrCat(first, "-", uint64_t{first} + count - 1);
  } else if (signature == "a(st)") {  // StartPhases: (phase, microseconds)
    sd_bus_message_enter_container(reply, 'a', "(st)");
    const char* phase = nullptr;
    uint64_t us = 0;
    while (sd_bus_message_read(reply, "(st)", &phase, &us) > 0) {
      p.list.push_back(absl::StrCat(phase, " ", absl::StrFormat("%.2f", static_cast<double>(us) / 1000), " ms"));
    }
    sd_bus_message_exit_container(reply);
    p.is_list = true;
    p.text = absl::StrJoin(p.list, ", ");
  } else {
    sd_bus_message_skip(reply, contents);
  }
}

}  // namespace

absl::StatusOr<std::vector<Property>> ContainerProperties(sd_bus* bus, const std::string& name) {
  // GetContainer first: its error says "no container named ..." where GetAll would not.
  auto get = NewManagerCall(bus, "GetContainer");
  if (!get.ok()) return get.status();
  sd_bus_message_append(get->get(), "s", name.c_str());
  auto found = CallAndWait(bus, get->get());
  if (!found.ok()) return found.status();

  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(bus, dbus::kBusName, ContainerPath(name).c_str(), "org.freedesktop.DBus.Properties",
                             "GetAll", &error, &reply, "s", dbus::kContainerInterface);
  if (r < 0) {
    std::string sentence = ErrorSentence(&error, r);
    sd_bus_error_free(&error);
    return absl::FailedPreconditionError(sentence);
  }
  MessagePtr owned(reply);
  std::vector<Property> properties;
  r = sd_bus_message_enter_container(reply, 'a', "{sv}");
  while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
    const char* key = nullptr;
    sd_bus_message_read(reply, "s", &key);
    const char* contents = nullptr;
    char type = 0;
    sd_bus_message_peek_type(reply, &type, &contents);
    Property p{key, ""};
    sd_bus_message_enter_container(reply, 'v', contents);
    ReadPropertyValue(reply, contents, p);
    sd_bus_message_exit_container(reply);  // v
    sd_bus_message_exit_container(reply);  // e
    properties.push_back(std::move(p));
  }
  return properties;
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

void AppendStrvOption(sd_bus_message* m, const char* key, const std::vector<std::string>& values) {
  if (values.empty()) return;
  sd_bus_message_open_container(m, 'e', "sv");
  sd_bus_message_append(m, "s", key);
  sd_bus_message_open_container(m, 'v', "as");
  sd_bus_message_open_container(m, 'a', "s");
  for (const std::string& v : values) sd_bus_message_append(m, "s", v.c_str());
  sd_bus_message_close_container(m);
  sd_bus_message_close_container(m);
  sd_bus_message_close_container(m);
}

}  // namespace corral::tools
