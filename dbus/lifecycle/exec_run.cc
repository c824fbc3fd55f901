#include "dbus/lifecycle/exec_run.h"

#include <signal.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/syscalls.h"

namespace corral::dbus {

absl::StatusOr<std::unique_ptr<ExecRun>> ExecRun::Begin(sd_event* event,
                                                        std::unique_ptr<runtime::AttachInProgress> attach,
                                                        uint64_t start_timeout_usec, Callbacks callbacks) {
  std::unique_ptr<ExecRun> run(new ExecRun(event, std::move(attach), std::move(callbacks)));
  sd_event_source* source = nullptr;
  int r = sd_event_add_io(
      event, &source, run->attach_->fd(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        static_cast<ExecRun*>(data)->OnAttachReadable();
        return 0;
      },
      run.get());
  if (r < 0) return ErrnoError(-r, "watch the exec's start");
  run->attach_source_.reset(source);
  source = nullptr;
  r = sd_event_add_time_relative(
      event, &source, CLOCK_MONOTONIC, start_timeout_usec, 0,
      [](sd_event_source*, uint64_t, void* data) -> int {
        auto* self = static_cast<ExecRun*>(data);
        self->attach_->Abort(absl::DeadlineExceededError(
            absl::StrCat("the command did not start within ", kExecStartTimeoutUsec / 1000000,
                         " s (something in the container holds its execve back); it was killed")));
        return 0;
      },
      run.get());
  if (r < 0) return ErrnoError(-r, "time the exec's start");
  run->start_timer_.reset(source);
  return run;
}

ExecRun::~ExecRun() {
  attach_source_.reset();
  start_timer_.reset();
  exit_source_.reset();
  // An attach still under way is killed by its own destructor; a command that started is
  // left to run (corrald going away does not end what its callers started).
}

void ExecRun::Cancel() {
  if (attach_) attach_->Abort(absl::CancelledError("the caller went away"));
  sys::PidfdSendSignal(process_.pidfd.get(), SIGKILL, nullptr, 0);
}

void ExecRun::Finish(absl::StatusOr<int> result) {
  attach_source_.reset();
  start_timer_.reset();
  exit_source_.reset();
  // Last, from a copy of its own: `done` may destroy this.
  std::function<void(absl::StatusOr<int>)> done = std::move(callbacks_.done);
  done(std::move(result));
}

void ExecRun::OnAttachReadable() {
  if (!attach_->OnReadable()) return;
  attach_source_.reset();
  start_timer_.reset();
  absl::StatusOr<runtime::AttachedProcess> process = attach_->Result();
  attach_.reset();
  if (!process.ok()) return Finish(process.status());
  process_ = std::move(*process);
  if (absl::Status started = callbacks_.started(process_); !started.ok()) {
    runtime::KillAndReapAttached(process_);  // bounded: never stalls the loop
    return Finish(started);
  }
  sd_event_source* source = nullptr;
  int r = sd_event_add_io(
      event_, &source, process_.pidfd.get(), EPOLLIN,
      [](sd_event_source*, int, uint32_t, void* data) -> int {
        auto* self = static_cast<ExecRun*>(data);
        absl::StatusOr<int> status = runtime::WaitAttached(self->process_);
        self->Finish(std::move(status));
        return 0;
      },
      this);
  if (r < 0) {
    runtime::KillAndReapAttached(process_);
    return Finish(ErrnoError(-r, "watch the exec'd command"));
  }
  exit_source_.reset(source);
}

}  // namespace corral::dbus
