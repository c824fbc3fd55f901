#include "tools/run_unit.h"

#include <signal.h>
#include <stdio.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include <cstring>
#include <string>

#include "dbus/interface.h"

namespace corral::tools {
namespace {

struct UnitRun {
  sd_bus* bus = nullptr;
  sd_event* event = nullptr;
  std::string name;
  std::string path;
  bool stop_requested = false;
};

std::string State(UnitRun* run) {
  char* state = nullptr;
  sd_bus_get_property_string(run->bus, dbus::kBusName, run->path.c_str(), dbus::kContainerInterface, "State", nullptr,
                             &state);
  std::string result = state ? state : "";
  free(state);
  return result;
}

// When the container is stopped, the loop ends with the unit's exit status.
void CheckStopped(UnitRun* run) {
  if (State(run) != "stopped") return;
  int32_t status = -1;
  sd_bus_message* reply = nullptr;
  if (sd_bus_get_property(run->bus, dbus::kBusName, run->path.c_str(), dbus::kContainerInterface, "ExitStatus",
                          nullptr, &reply, "i") >= 0) {
    sd_bus_message_read(reply, "i", &status);
  }
  sd_bus_message_unref(reply);
  if (!run->stop_requested) {
    ::fprintf(stderr, "corralctl: container %s exited with status %d\n", run->name.c_str(), status);
  }
  sd_event_exit(run->event, run->stop_requested || status == 0 ? 0 : 1);
}

int OnPropertiesChanged(sd_bus_message*, void* userdata, sd_bus_error*) {
  CheckStopped(static_cast<UnitRun*>(userdata));
  return 0;
}

int OnTerminate(sd_event_source*, const struct signalfd_siginfo*, void* userdata) {
  auto* run = static_cast<UnitRun*>(userdata);
  if (run->stop_requested) return 0;
  run->stop_requested = true;
  sd_notify(0, "STOPPING=1");
  // Asynchronous: the loop goes on and ends when the State turns "stopped".
  sd_bus_call_method_async(run->bus, nullptr, dbus::kBusName, dbus::kManagerPath, dbus::kManagerInterface,
                           "StopContainer", nullptr, nullptr, "s", run->name.c_str());
  return 0;
}

}  // namespace

int RunUnit(const std::string& name) {
  UnitRun run;
  run.name = name;
  char* path = nullptr;
  sd_bus_path_encode(dbus::kContainerPathPrefix, name.c_str(), &path);
  run.path = path ? path : "";
  free(path);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int r = sd_event_default(&run.event);
  if (r >= 0) r = sd_bus_open_system(&run.bus);
  if (r >= 0) r = sd_bus_attach_event(run.bus, run.event, 0);
  if (r < 0) {
    ::fprintf(stderr, "corralctl: connect to the system bus: %s\n", strerror(-r));
    return 1;
  }
  // Watch before starting, so a container that stops at once is not missed.
  sd_bus_match_signal(run.bus, nullptr, dbus::kBusName, run.path.c_str(), "org.freedesktop.DBus.Properties",
                      "PropertiesChanged", OnPropertiesChanged, &run);
  sd_event_add_signal(run.event, nullptr, SIGTERM, OnTerminate, &run);
  sd_event_add_signal(run.event, nullptr, SIGINT, OnTerminate, &run);

  sd_bus_error error = SD_BUS_ERROR_NULL;
  r = sd_bus_call_method(run.bus, dbus::kBusName, dbus::kManagerPath, dbus::kManagerInterface, "StartContainer",
                         &error, nullptr, "s", name.c_str());
  if (r < 0 && !sd_bus_error_has_name(&error, dbus::kErrorAlreadyRunning)) {
    ::fprintf(stderr, "corralctl: start %s: %s\n", name.c_str(), error.message ? error.message : strerror(-r));
    sd_bus_error_free(&error);
    return 1;
  }
  sd_bus_error_free(&error);
  sd_notifyf(0, "READY=1\nSTATUS=container %s is running", name.c_str());
  CheckStopped(&run);
  r = sd_event_loop(run.event);
  sd_bus_flush_close_unref(run.bus);
  sd_event_unref(run.event);
  return r < 0 ? 1 : r;
}

}  // namespace corral::tools
