// One exec into a running container, on corrald's loop and without the bus: the attach under
// way (bounded by a start timeout: a container can hold an execve back, and none of that may
// hold corrald), then the command until it exits. The D-Bus layer owns one per Exec call and
// adds what is the bus's: the caller's tracking and the pty passed to it.
#ifndef CORRAL_DBUS_LIFECYCLE_EXEC_RUN_H_
#define CORRAL_DBUS_LIFECYCLE_EXEC_RUN_H_

#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "dbus/bus_ptr.h"
#include "runtime/attach.h"

namespace corral::dbus {

// How long an exec may take to start (the helper entering the container, the command's execve).
inline constexpr uint64_t kExecStartTimeoutUsec = 10 * 1000000;

class ExecRun {
 public:
  struct Callbacks {
    // The command has started (for a -t exec its pty master is in process.pty_master); an
    // error kills it and ends the exec with that error.
    std::function<absl::Status(runtime::AttachedProcess& process)> started;
    // The exit status (code or 128+signal), or why it did not run. Called once, last: the
    // ExecRun may be destroyed from it.
    std::function<void(absl::StatusOr<int>)> done;
  };

  // Watches `attach` on `event`.
  static absl::StatusOr<std::unique_ptr<ExecRun>> Begin(sd_event* event,
                                                        std::unique_ptr<runtime::AttachInProgress> attach,
                                                        uint64_t start_timeout_usec, Callbacks callbacks);
  ~ExecRun();  // kills and reaps an attach still under way
  ExecRun(const ExecRun&) = delete;
  ExecRun& operator=(const ExecRun&) = delete;

  // The caller is gone (Ctrl-C on corralctl, a crash): its command goes too, as a hangup would
  // take it.
  void Cancel();

 private:
  ExecRun(sd_event* event, std::unique_ptr<runtime::AttachInProgress> attach, Callbacks callbacks)
      : event_(event), attach_(std::move(attach)), callbacks_(std::move(callbacks)) {}
  void OnAttachReadable();
  void Finish(absl::StatusOr<int> result);

  sd_event* event_;
  std::unique_ptr<runtime::AttachInProgress> attach_;
  Callbacks callbacks_;
  EventSourcePtr attach_source_;
  EventSourcePtr start_timer_;
  runtime::AttachedProcess process_;
  EventSourcePtr exit_source_;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_LIFECYCLE_EXEC_RUN_H_
