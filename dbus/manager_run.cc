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
#include "common/utf8.h"
#include "dbus/error_kind.h"
#include "dbus/exec_request.h"
#include "dbus/exec_socket.h"
#include "dbus/exec_wire.h"
#include "dbus/interface.h"
#include "dbus/lifecycle/exec_run.h"
#include "dbus/options.h"
#include "dbus/service.h"
#include "runtime/spec.h"
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

// One exec: its run (lifecycle/exec_run.h) and who waits for the exit status: a call of the
// Exec method (its caller tracked on the system bus: when it goes away its command goes) or a
// connection of the exec socket (exec_socket.h, watched by `hangup`), and the socket the -t pty
// master goes to.
namespace {

// The exec socket's answer: the exit status, or the error by its contract name (as the
// Exec method would have replied).
void SendExecOutcome(int connection, const absl::StatusOr<int>& result) {
  ExecReply reply;
  reply.exited = result.ok();
  if (result.ok()) {
    reply.exit_status = *result;
  } else {
    reply.error_name = ErrorNameFor(result.status());
    reply.message = ValidUtf8(result.status().message());
  }
  SendExecReply(connection, reply);
}

}  // namespace

struct Service::ExecCall {
  Service* service = nullptr;
  MessagePtr call;
  TrackPtr caller;
  UniqueFd connection;
  EventSourcePtr hangup;
  UniqueFd pty_receiver;
  std::unique_ptr<ExecRun> run;
  ~ExecCall() { service->execs_.erase(this); }
  // Answers the caller: the command's exit status, or why there is none.
  void Finish(const absl::StatusOr<int>& result) {
    if (call != nullptr) {
      if (result.ok()) {
        sd_bus_reply_method_return(call.get(), "i", *result);
      } else {
        ReplyStatusError(call.get(), result.status());
      }
      return;
    }
    SendExecOutcome(connection.get(), result);
  }
};

int Service::Exec(sd_bus_message* m, void* userdata, sd_bus_error* error) {
  auto* self = static_cast<Service*>(userdata);
  int r = 0;
  ContainerRecord* record = self->Target(m, error, &r);
  if (record == nullptr) return r;
  ExecRequest request;
  UniqueFd pty_receiver;
  if ((r = ReadStrv(m, &request.command)) < 0) return r;
  if ((r = ReadExecOptions(m, &request, &pty_receiver, error)) < 0) return r;
  runtime::AttachSpec spec;
  if (absl::Status valid = SpecFromRequest(request, pty_receiver.get(), &spec); !valid.ok()) {
    return StatusError(error, valid);
  }
  if ((r = sd_bus_message_read(m, "hhh", &spec.stdin_fd, &spec.stdout_fd, &spec.stderr_fd)) < 0) return r;
  absl::StatusOr<ExecCall*> pending = self->BeginExec(record, std::move(spec), std::move(pty_receiver));
  if (!pending.ok()) return StatusError(error, pending.status());
  (*pending)->call.reset(sd_bus_message_ref(m));
  sd_bus* bus = sd_bus_message_get_bus(m);
  sd_bus_track* track = nullptr;
  if (sd_bus_is_bus_client(bus) > 0 &&
      sd_bus_track_new(
          bus, &track,
          [](sd_bus_track*, void* data) -> int {
            static_cast<ExecCall*>(data)->run->Cancel();
            return 0;
          },
          *pending) >= 0) {
    (*pending)->caller.reset(track);
    sd_bus_track_add_sender(track, m);
  }
  return 1;
}

void Service::ExecFromSocket(ExecSocketCall call) {
  auto refuse = [&call](const absl::Status& status) { SendExecOutcome(call.connection.get(), status); };
  // The socket let only root in (ExecSocket::Accept); the rest is what Target checks.
  if (absl::Status valid = runtime::ValidateContainerName(call.request.name); !valid.ok()) {
    return refuse(WithErrorKind(valid, ErrorKind::kInvalidName));
  }
  ContainerRecord* record = registry_.Find(call.request.name);
  if (record == nullptr) return refuse(NoSuchContainerError(call.request.name));
  UniqueFd pty_receiver;
  if (call.request.pty_receiver) pty_receiver = std::move(call.fds[kExecStdioFds]);
  runtime::AttachSpec spec;
  if (absl::Status valid = SpecFromRequest(call.request, pty_receiver.get(), &spec); !valid.ok()) return refuse(valid);
  spec.stdin_fd = call.fds[0].get();
  spec.stdout_fd = call.fds[1].get();
  spec.stderr_fd = call.fds[2].get();
  absl::StatusOr<ExecCall*> begun = BeginExec(record, std::move(spec), std::move(pty_receiver));
  if (!begun.ok()) return refuse(begun.status());
  ExecCall* pending = *begun;
  pending->connection = std::move(call.connection);
  // The caller gone (Ctrl-C on corralctl) takes its command, as on the bus.
  sd_event_source* hangup = nullptr;
  int r = sd_event_add_io(
      event_, &hangup, pending->connection.get(), EPOLLRDHUP,
      [](sd_event_source* source, int, uint32_t, void* data) -> int {
        sd_event_source_set_enabled(source, SD_EVENT_OFF);
        static_cast<ExecCall*>(data)->run->Cancel();
        return 0;
      },
      pending);
  if (r < 0) {
    pending->run->Cancel();
    return;
  }
  pending->hangup.reset(hangup);
}

// Exec's work once its arguments are checked, for the bus and the exec socket alike: the exec
// under way (who waits for it still to be set by the caller).
absl::StatusOr<Service::ExecCall*> Service::BeginExec(ContainerRecord* record, runtime::AttachSpec spec,
                                                      UniqueFd pty_receiver) {
  absl::StatusOr<std::unique_ptr<runtime::AttachInProgress>> attach = lifecycle_->StartExec(record, std::move(spec));
  if (!attach.ok()) return attach.status();
  auto exec = std::make_unique<ExecCall>();
  ExecCall* pending = exec.get();
  pending->service = this;
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
    done->Finish(status);
  };
  absl::StatusOr<std::unique_ptr<ExecRun>> run =
      ExecRun::Begin(event_, std::move(*attach), kExecStartTimeoutUsec, std::move(callbacks));
  if (!run.ok()) return run.status();  // the attach is killed and reaped
  pending->run = std::move(*run);
  execs_.insert(exec.release());  // freed by its done callback
  return pending;
}

void Service::DropExecs() {
  while (!execs_.empty()) delete *execs_.begin();  // each erases itself
}

void Service::CallerDisconnected(sd_bus* bus) {
  for (ExecCall* exec : execs_) {
    if (exec->call != nullptr && sd_bus_message_get_bus(exec->call.get()) == bus) exec->run->Cancel();
  }
}

}  // namespace corral::dbus
