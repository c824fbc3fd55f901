#include "tools/oci/systemd_scope.h"

#include <systemd/sd-bus.h>
#include <time.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"

namespace corral::oci_cli {

std::string SystemdCgroupPath(const std::string& slice, const std::string& unit) {
  std::string path;
  std::string name = slice.substr(0, slice.size() - (slice.size() > 6 ? 6 : 0));  // without ".slice"
  if (slice != "-.slice") {
    std::string prefix;
    for (absl::string_view part : absl::StrSplit(name, '-')) {
      prefix = prefix.empty() ? std::string(part) : absl::StrCat(prefix, "-", part);
      path += "/" + prefix + ".slice";
    }
  }
  return path + "/" + unit;
}

namespace {

struct JobWait {
  std::string job;
  std::string result;
  bool done = false;
};

int OnJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* wait = static_cast<JobWait*>(userdata);
  uint32_t id;
  const char *path, *unit, *result;
  if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
  if (wait->job == path) {
    wait->result = result;
    wait->done = true;
  }
  return 0;
}

}  // namespace

absl::Status StartSystemdScope(const std::string& unit, const std::string& slice, pid_t pid,
                               const std::string& description, uint64_t memory_max, uint64_t tasks_max) {
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_system(&bus); r < 0) return ErrnoError(-r, "--systemd-cgroup: connect to the system bus");
  struct Closer {
    sd_bus* bus;
    ~Closer() { sd_bus_flush_close_unref(bus); }
  } closer{bus};
  JobWait wait;
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_match_signal(bus, &slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                              "org.freedesktop.systemd1.Manager", "JobRemoved", OnJobRemoved, &wait);
  if (r < 0) return ErrnoError(-r, "--systemd-cgroup: subscribe to JobRemoved");
  sd_bus_message* call = nullptr;
  r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", "StartTransientUnit");
  if (r >= 0) r = sd_bus_message_append(call, "ss", unit.c_str(), "fail");
  if (r >= 0) r = sd_bus_message_open_container(call, 'a', "(sv)");
  if (r >= 0) r = sd_bus_message_append(call, "(sv)", "Description", "s", description.c_str());
  if (r >= 0) r = sd_bus_message_append(call, "(sv)", "Slice", "s", slice.c_str());
  if (r >= 0) r = sd_bus_message_append(call, "(sv)", "Delegate", "b", 1);
  if (r >= 0) r = sd_bus_message_append(call, "(sv)", "PIDs", "au", 1, static_cast<uint32_t>(pid));
  if (r >= 0 && memory_max > 0) r = sd_bus_message_append(call, "(sv)", "MemoryMax", "t", memory_max);
  if (r >= 0 && tasks_max > 0) r = sd_bus_message_append(call, "(sv)", "TasksMax", "t", tasks_max);
  if (r >= 0) r = sd_bus_message_close_container(call);
  if (r >= 0) r = sd_bus_message_append(call, "a(sa(sv))", 0);
  if (r < 0) {
    sd_bus_message_unref(call);
    sd_bus_slot_unref(slot);
    return ErrnoError(-r, "--systemd-cgroup: build StartTransientUnit");
  }
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  r = sd_bus_call(bus, call, 10 * 1000 * 1000, &error, &reply);
  sd_bus_message_unref(call);
  if (r < 0) {
    std::string message = error.message != nullptr ? error.message : std::strerror(-r);
    sd_bus_error_free(&error);
    sd_bus_slot_unref(slot);
    return absl::InternalError(absl::StrCat("--systemd-cgroup: StartTransientUnit ", unit, ": ", message));
  }
  const char* job = nullptr;
  if (sd_bus_message_read(reply, "o", &job) >= 0 && job != nullptr) wait.job = job;
  sd_bus_message_unref(reply);
  struct timespec start;
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  while (!wait.done) {
    r = sd_bus_process(bus, nullptr);
    if (r < 0) break;
    if (r > 0) continue;
    struct timespec now;
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec > 10) break;
    sd_bus_wait(bus, 1000 * 1000);
  }
  sd_bus_slot_unref(slot);
  if (!wait.done) return absl::DeadlineExceededError(absl::StrCat("--systemd-cgroup: the job for ", unit, " did not finish"));
  if (wait.result != "done") {
    return absl::InternalError(absl::StrCat("--systemd-cgroup: starting ", unit, " ended with \"", wait.result, "\""));
  }
  return absl::OkStatus();
}

}  // namespace corral::oci_cli
