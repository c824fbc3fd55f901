// corrald: the corral D-Bus service (org.corral1 on the system bus). Runs under systemd as
// corrald.service (Type=notify); containers live in their own scopes, not in this process's
// cgroup, so restarting or killing corrald leaves them running.
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "dbus/exec_wire.h"
#include "dbus/interface.h"
#include "common/files.h"
#include "dbus/service.h"
#include "dbus/state_dirs.h"

namespace corral::dbus {
namespace {

int Fail(const std::string& what, int r) {
  ::fprintf(stderr, "corrald: %s: %s\n", what.c_str(), strerror(r < 0 ? -r : r));
  sd_notifyf(0, "STATUS=%s failed\nERRNO=%d", what.c_str(), r < 0 ? -r : r);
  return 1;
}

// Paths can be moved for tests and sandboxes; the defaults are DESIGN.md's.
ServiceOptions OptionsFromEnvironment() {
  ServiceOptions options;
  if (const char* v = getenv("CORRAL_LIB_DIR")) {
    options.paths.lib_root = absl::StrCat(v, "/containers");
    options.paths.images_root = absl::StrCat(v, "/images");
    options.paths.volumes_root = absl::StrCat(v, "/volumes");
  }
  if (const char* v = getenv("CORRAL_RUN_DIR")) options.paths.run_root = absl::StrCat(v, "/containers");
  if (const char* v = getenv("CORRAL_NETWORK_CONFIG")) options.network_config = v;
  if (const char* v = getenv("CORRAL_IDMAP_CONFIG")) options.paths.idmap_config = v;
  // How long a start may take before it is failed and cleaned (as TimeoutStartSec=).
  if (const char* v = getenv("CORRAL_START_TIMEOUT")) {
    uint32_t seconds = 0;
    if (absl::SimpleAtoi(v, &seconds) && seconds > 0) options.start_timeout_seconds = seconds;
  }
  return options;
}

int Main() {
  // Supervisors are forked from here: they must not inherit a blocked-signal mask by surprise,
  // and sd-event handles SIGTERM and SIGINT through a signalfd, which needs them blocked here.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Every running container costs corrald a few fds (supervisor pidfd and pipe, leader pidfd,
  // cgroup): a thousand containers need more than the soft limit of 1024. The supervisors put
  // it back for the containers.
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  sd_event* event = nullptr;
  int r = sd_event_default(&event);
  if (r < 0) return Fail("sd_event_default", r);
  sd_event_add_signal(event, nullptr, SIGTERM, nullptr, nullptr);  // default: exit the loop
  sd_event_add_signal(event, nullptr, SIGINT, nullptr, nullptr);
  sd_event_set_watchdog(event, true);  // pings WATCHDOG=1 when WatchdogSec= is set

  sd_bus* bus = nullptr;
  r = sd_bus_open_system(&bus);
  if (r < 0) return Fail("connect to the system bus", r);
  r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r < 0) return Fail("attach the bus to the event loop", r);
  // Never deaf: a corrald that lost the system bus (`systemctl restart dbus`) ends its loop
  // with 1 and exits failed, and systemd starts a new one (Restart=on-failure), which finds
  // its containers again. The containers do not depend on corrald's connection.
  r = sd_bus_set_exit_on_disconnect(bus, 1);
  if (r < 0) return Fail("exit on losing the bus", r);
  // Nothing in the loop waits on a lock another process holds (a corral-run, a supervisor, an
  // admin's flock): every lock is tried once and retried from a timer.
  FileLock::SetNonBlocking(true);

  ServiceOptions options = OptionsFromEnvironment();
  // Before anything is created in them; also closes the directories an older corral left
  // world-readable (images with setuid binaries among them).
  if (absl::Status secured = SecureStateDirectories(options.paths); !secured.ok()) {
    ::fprintf(stderr, "corrald: securing the state directories: %s\n", std::string(secured.message()).c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Service>> service = Service::Create(event, bus, std::move(options));
  if (!service.ok()) {
    ::fprintf(stderr, "corrald: %s\n", std::string(service.status().message()).c_str());
    return 1;
  }
  std::string private_socket = getenv("CORRAL_RUN_DIR") ? absl::StrCat(getenv("CORRAL_RUN_DIR"), "/private")
                                                        : std::string("/run/corral/private");
  if (absl::Status listening = (*service)->ListenPrivate(private_socket); !listening.ok()) {
    // Not fatal: everything works over the system bus, a little slower.
    ::fprintf(stderr, "corrald: %s\n", std::string(listening.message()).c_str());
  }
  std::string run_dir = getenv("CORRAL_RUN_DIR") ? getenv("CORRAL_RUN_DIR") : kDefaultRunDir;
  if (absl::Status listening = (*service)->ListenExec(absl::StrCat(run_dir, "/", kExecSocketName)); !listening.ok()) {
    // Not fatal either: corralctl exec then goes through the Exec method.
    ::fprintf(stderr, "corrald: %s\n", std::string(listening.message()).c_str());
  }
  // The name last: a caller activated through it finds every object answering.
  r = sd_bus_request_name(bus, kBusName, 0);
  if (r < 0) return Fail(absl::StrCat("own the bus name ", kBusName), r);
  sd_notify(0, "READY=1\nSTATUS=serving org.corral1");

  r = sd_event_loop(event);
  sd_notify(0, "STOPPING=1");
  if (r > 0) {
    ::fprintf(stderr, "corrald: lost the system bus; exiting so that systemd starts a new corrald\n");
    service->reset();
    sd_event_unref(event);
    return 1;
  }
  service->reset();
  sd_bus_flush_close_unref(bus);
  sd_event_unref(event);
  return r < 0 ? Fail("event loop", r) : 0;
}

}  // namespace
}  // namespace corral::dbus

int main() { return corral::dbus::Main(); }
