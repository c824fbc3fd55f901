// The D-Bus benchmarks' one connection to the system bus and their calls of corrald's Manager
// methods (dbus_bench and durability_bench share them).
#ifndef CORRAL_BENCHMARKS_MANAGER_CALL_H_
#define CORRAL_BENCHMARKS_MANAGER_CALL_H_

#include <systemd/sd-bus.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dbus/interface.h"

namespace corral::bench {

// The process's system-bus connection, opened on first use (the benchmark aborts without one).
inline sd_bus* Bus() {
  static sd_bus* bus = [] {
    sd_bus* b = nullptr;
    if (sd_bus_open_system(&b) < 0) std::abort();
    return b;
  }();
  return bus;
}

// Calls a Manager method; false (and the error on stderr, after `who`) when it fails.
template <typename... Args>
bool CallManager(const char* who, const char* method, const char* signature, Args... args) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(Bus(), dbus::kBusName, dbus::kManagerPath, dbus::kManagerInterface, method, &error,
                             &reply, signature, args...);
  if (r < 0) std::fprintf(stderr, "%s: %s: %s\n", who, method, error.message ? error.message : std::strerror(-r));
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  return r >= 0;
}

}  // namespace corral::bench

#endif  // CORRAL_BENCHMARKS_MANAGER_CALL_H_
