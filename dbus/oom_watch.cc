#include "dbus/oom_watch.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "runtime/cgroup/cgroup.h"

namespace corral::dbus {

std::optional<uint64_t> ParseOomKills(absl::string_view text) { return runtime::FindKeyedValue(text, "oom_kill"); }

std::string CutAtUnit(const std::string& dir, absl::string_view unit) {
  std::string needle = absl::StrCat("/", unit);
  size_t at = dir.find(needle + "/");
  if (at == std::string::npos) {
    if (dir.size() >= needle.size() && dir.compare(dir.size() - needle.size(), needle.size(), needle) == 0) return dir;
    return "";
  }
  return dir.substr(0, at + needle.size());
}

absl::StatusOr<std::unique_ptr<OomWatch>> OomWatch::Open(pid_t leader, const std::string& unit) {
  absl::StatusOr<runtime::Cgroup> cgroup = runtime::Cgroup::Of(leader);
  if (!cgroup.ok()) return cgroup.status();
  auto watch = std::unique_ptr<OomWatch>(new OomWatch);
  // cgroup2 first, when it accounts memory for the scope (a unified host).
  std::string scope2 = CutAtUnit(cgroup->Directory(), unit);
  if (!scope2.empty() && ::access((scope2 + "/memory.events").c_str(), R_OK) == 0) {
    watch->counter_path_ = scope2 + "/memory.events";
    watch->counter_.reset(::open(watch->counter_path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!watch->counter_.valid()) return ErrnoError(absl::StrCat("open ", watch->counter_path_));
    watch->notify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!watch->notify_.valid()) return ErrnoError("inotify_init1");
    if (::inotify_add_watch(watch->notify_.get(), watch->counter_path_.c_str(), IN_MODIFY) < 0) {
      return ErrnoError(absl::StrCat("inotify_add_watch ", watch->counter_path_));
    }
    return watch;
  }
  std::string scope1 = CutAtUnit(cgroup->V1Directory("memory"), unit);
  if (scope1.empty()) return absl::FailedPreconditionError(absl::StrCat("no memory accounting for ", unit));
  watch->counter_path_ = scope1 + "/memory.oom_control";
  watch->counter_.reset(::open(watch->counter_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!watch->counter_.valid()) return ErrnoError(absl::StrCat("open ", watch->counter_path_));
  watch->notify_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!watch->notify_.valid()) return ErrnoError("eventfd");
  // The v1 notification API: "<eventfd> <fd of memory.oom_control>" into cgroup.event_control
  // of the container's own scope (the kernel keeps the registration until either fd closes or
  // the cgroup goes).
  std::string control = scope1 + "/cgroup.event_control";
  UniqueFd control_fd(::open(control.c_str(), O_WRONLY | O_CLOEXEC));
  std::string line = absl::StrCat(watch->notify_.get(), " ", watch->counter_.get());
  if (!control_fd.valid() || ::write(control_fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return ErrnoError(absl::StrCat("register for OOM notifications in ", control));
  }
  return watch;
}

std::optional<uint64_t> OomWatch::Read() {
  char drain[4096];
  while (::read(notify_.get(), drain, sizeof(drain)) > 0) {
  }
  char text[1024];
  ssize_t n = ::pread(counter_.get(), text, sizeof(text) - 1, 0);
  if (n <= 0) return std::nullopt;
  return ParseOomKills(absl::string_view(text, n));
}

}  // namespace corral::dbus
