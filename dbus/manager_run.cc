// The Manager's methods that set a container in motion: start, stop, kill (the lifecycle does
// them, lifecycle/lifecycle.h), the console (the supervisor hands it over,
// supervisor/console_request.h) and exec (lifecycle/exec_run.h, with the caller tracked here).
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/fd_passing.h"
#include "dbus/bus_errors.h"
#include "dbus/caller.h"
#include "dbus/error_kind.h"
#include "dbus/interface.h"
#include "dbus/lifecycle/exec_run.h"
#include "dbus/options.h"
#include "dbus/service.h"
#include "dbus/supervisor/console_request.h"

namespace corral::dbus {
namespace {

// Passes `fd` on `socket` (one byte of data) without waiting: a caller that does not read its
// socket gets an error, not a stuck corrald.
absl::Status SendFd(int socket, int fd) {
  char byte = 'p';
  if (int err = SendWithFd(socket, &byte, 1, fd, MSG_DONTWAIT); err != 0) return ErrnoError(err, "sendmsg the pty master");
  return absl::OkStatus();
}

}  // namespace

ContainerRecord* Service::Target(sd_bus_message* m, sd_bus_error* error, int* r) {
  std::string name;
  if (!RequireRoot(m, error, r) || !ReadName(m, error, r, &name)) return nullptr;
  ContainerRecord* record = registry_.Find(name);
  if (record == nullptr) *r = StatusError(error, NoSuchContainerError(name));
  return record;
}

// ---- start, stop, kill ----

int Service::StartContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  absl::Status started = self->lifecycle_->Start(record, ReplyWhenDone(m));
  if (!started.ok()) return StatusError(error, started);
  return 1;  // the reply comes when the supervisor reports
}

int Service::StopContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  return self->Stop(m, record, std::nullopt, error);
}

int Service::StopContainerWithTimeout(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  uint32_t timeout = 0;
  if ((r = sd_bus_message_read(m, "u", &timeout)) < 0) return r;
  return self->Stop(m, record, timeout, error);
}

int Service::Stop(sd_bus_message* m, ContainerRecord* record, std::optional<uint32_t> timeout_seconds,
                  sd_bus_error* error) {
  absl::Status stopping = lifecycle_->Stop(record, timeout_seconds, ReplyWhenDone(m));
  if (!stopping.ok()) return StatusError(error, stopping);
  return 1;  // the reply comes when the supervisor is gone
}

int Service::KillContainer(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  int32_t signal = 0;
  if ((r = sd_bus_message_read(m, "i", &signal)) < 0) return r;
  if (absl::Status killed = self->lifecycle_->Kill(record, signal); !killed.ok()) return StatusError(error, killed);
  return sd_bus_reply_method_return(m, "");
}

// ---- console ----

int Service::OpenConsole(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  if (record->state != ContainerState::kRunning) {
    return StatusError(error, NotRunningError(absl::StrCat("container ", record->config.name, " is not running")));
  }
  // Answered from the loop when the supervisor hands the session over (or fails to in time).
  std::shared_ptr<sd_bus_message> call = ShareMessage(m);
  RequestConsoleAsync(self->event_, record->paths, kConsoleRequestTimeoutUsec,
                      [call](absl::StatusOr<ConsoleSession> session) {
                        if (session.ok()) {
                          sd_bus_reply_method_return(call.get(), "hs", session->master.get(), session->pty.c_str());
                        } else {
                          ReplyStatusError(call.get(), session.status());
                        }
                      });
  return 1;
}

// ---- exec ----

// One Exec call: its run (lifecycle/exec_run.h) and what is the bus's: the call to answer,
// the caller's tracking (on the system bus: fires when the caller goes away) and the socket
// the -t pty master goes to.
struct Service::ExecCall {
  Service* service = nullptr;
  MessagePtr call;
  TrackPtr caller;
  UniqueFd pty_receiver;
  std::unique_ptr<ExecRun> run;
  ~ExecCall() { service->execs_.erase(this); }
};

int Service::ReadExecCall(sd_bus_message* m, runtime::AttachSpec* spec, UniqueFd* pty_receiver, sd_bus_error* error) {
  int r;
  if ((r = ReadStrv(m, &spec->command)) < 0) return r;
  if (spec->command.empty()) return SetError(error, kErrorInvalidArgument, "no command given");
  if ((r = ReadExecOptions(m, spec, pty_receiver, error)) < 0) return r;
  for (const std::string& e : spec->env) {
    if (e.find('=') == std::string::npos || e[0] == '=') {
      return SetError(error, kErrorInvalidArgument, absl::StrCat("environment entry \"", e, "\" is not KEY=VALUE"));
    }
  }
  if ((r = sd_bus_message_read(m, "hhh", &spec->stdin_fd, &spec->stdout_fd, &spec->stderr_fd)) < 0) return r;
  if (*pty_receiver) {
    if (!spec->controlling_tty) return SetError(error, kErrorInvalidArgument, "PtyReceiver needs Tty");
    struct stat st;
    int type = 0;
    socklen_t len = sizeof(type);
    if (::fstat(pty_receiver->get(), &st) != 0 || !S_ISSOCK(st.st_mode) ||
        ::getsockopt(pty_receiver->get(), SOL_SOCKET, SO_DOMAIN, &type, &len) != 0 || type != AF_UNIX) {
      return SetError(error, kErrorInvalidArgument, "PtyReceiver is not a unix socket");
    }
    spec->allocate_pty = true;
  }
  return 0;
}

int Service::Exec(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  runtime::AttachSpec spec;
  UniqueFd pty_receiver;
  if ((r = self->ReadExecCall(m, &spec, &pty_receiver, error)) < 0) return r;
  return self->BeginExec(m, record, std::move(spec), std::move(pty_receiver), error);
}

int Service::BeginExec(sd_bus_message* m, ContainerRecord* record, runtime::AttachSpec spec, UniqueFd pty_receiver,
                       sd_bus_error* error) {
  absl::StatusOr<std::unique_ptr<runtime::AttachInProgress>> attach = lifecycle_->StartExec(record, std::move(spec));
  if (!attach.ok()) return StatusError(error, attach.status());
  auto exec = std::make_unique<ExecCall>();
  ExecCall* pending = exec.get();
  pending->service = this;
  pending->call.reset(sd_bus_message_ref(m));
  pending->pty_receiver = std::move(pty_receiver);
  ExecRun::Callbacks callbacks;
  callbacks.started = [pending](runtime::AttachedProcess& process) -> absl::Status {
    if (!process.pty_master) return absl::OkStatus();
    // The -t pty's master goes to the caller on its socket; never waiting for it.
    absl::Status passed = SendFd(pending->pty_receiver.get(), process.pty_master.get());
    process.pty_master.reset();
    pending->pty_receiver.reset();
    return passed.ok() ? passed : Annotate(passed, "pass the pty to the caller");
  };
  callbacks.done = [pending](absl::StatusOr<int> status) {
    std::unique_ptr<ExecCall> done(pending);
    if (status.ok()) {
      sd_bus_reply_method_return(done->call.get(), "i", *status);
    } else {
      ReplyStatusError(done->call.get(), status.status());
    }
  };
  absl::StatusOr<std::unique_ptr<ExecRun>> run =
      ExecRun::Begin(event_, std::move(*attach), kExecStartTimeoutUsec, std::move(callbacks));
  if (!run.ok()) return StatusError(error, run.status());  // the attach is killed and reaped
  pending->run = std::move(*run);
  execs_.insert(exec.release());  // freed by its done callback
  sd_bus* bus = sd_bus_message_get_bus(m);
  sd_bus_track* track = nullptr;
  if (sd_bus_is_bus_client(bus) > 0 &&
      sd_bus_track_new(
          bus, &track,
          [](sd_bus_track*, void* data) -> int {
            static_cast<ExecCall*>(data)->run->Cancel();
            return 0;
          },
          pending) >= 0) {
    pending->caller.reset(track);
    sd_bus_track_add_sender(track, m);
  }
  return 1;
}

void Service::DropExecs() {
  while (!execs_.empty()) delete *execs_.begin();  // each erases itself
}

void Service::CallerDisconnected(sd_bus* bus) {
  for (ExecCall* exec : execs_) {
    if (sd_bus_message_get_bus(exec->call.get()) == bus) exec->run->Cancel();
  }
}

}  // namespace corral::dbus
