// Tells corrald when the kernel's OOM killer kills a process of a running container: the count
// of OOM kills in the container's scope, and an fd that becomes readable when it may have grown.
//
// cgroup2: the scope's memory.events ("oom_kill N", hierarchical), watched with inotify
// (IN_MODIFY, which the kernel raises on every change of the file, as systemd's OOM handling
// watches it). A hybrid host's v1 memory hierarchy: memory.oom_control ("oom_kill N", Linux
// 4.13+), with an eventfd registered in the scope's cgroup.event_control (the v1 OOM
// notification); the count there grows a moment after the notification, so callers read again
// shortly after one (see Service).
#ifndef CORRAL_DBUS_OOM_WATCH_H_
#define CORRAL_DBUS_OOM_WATCH_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace corral::dbus {

// "oom_kill N" of a memory.events or memory.oom_control text; nullopt when absent.
std::optional<uint64_t> ParseOomKills(absl::string_view text);

// The part of cgroup path `dir` up to and including the component `unit` ("" when absent).
std::string CutAtUnit(const std::string& dir, absl::string_view unit);

class OomWatch {
 public:
  // For the scope `unit` holding process `leader`. FailedPrecondition when no hierarchy accounts
  // memory for the scope.
  static absl::StatusOr<std::unique_ptr<OomWatch>> Open(pid_t leader, const std::string& unit);

  int fd() const { return notify_.get(); }
  // Empties the notification fd; returns the scope's OOM kills so far (nullopt: unreadable,
  // the scope is gone).
  std::optional<uint64_t> Read();
  const std::string& counter_path() const { return counter_path_; }

 private:
  UniqueFd notify_;   // inotify (cgroup2) or eventfd (v1)
  UniqueFd counter_;  // the open counter file, read with pread
  std::string counter_path_;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_OOM_WATCH_H_
