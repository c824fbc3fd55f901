// corralctl exec: pipes or a pty relayed to the caller's stdio (ExecStdio), passed to corrald as
// unix fds; the reply carries the command's exit status.
#include <poll.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/errors.h"
#include "tools/ctl/bus.h"
#include "tools/ctl/exec_args.h"
#include "tools/ctl/exec_stdio.h"
#include "tools/ctl/verbs.h"

namespace corral::tools::ctl {
namespace {

// The reply of the Exec call, waited for while the stdio is relayed.
class BusReplyWait : public ReplyWait {
 public:
  BusReplyWait(sd_bus* bus, const bool* done) : bus_(bus), done_(done) {}
  pollfd PollFd() override { return {sd_bus_get_fd(bus_), static_cast<short>(sd_bus_get_events(bus_)), 0}; }
  uint64_t DeadlineUsec() override {
    uint64_t usec = UINT64_MAX;
    sd_bus_get_timeout(bus_, &usec);
    return usec;
  }
  absl::StatusOr<bool> Process() override {
    int r;
    while ((r = sd_bus_process(bus_, nullptr)) > 0) {
    }
    if (r < 0) return ErrnoError(-r, "process the bus");
    return *done_;
  }

 private:
  sd_bus* bus_;
  const bool* done_;
};

}  // namespace

int Exec(sd_bus* bus, const std::vector<std::string>& args) {
  absl::StatusOr<ExecArgs> parsed = ParseExecArgs(args);
  if (!parsed.ok()) return Usage(parsed.status().message());
  const std::vector<std::string>& env = parsed->env;
  const std::string &name = parsed->name, &user = parsed->user, &cwd = parsed->cwd;
  const std::vector<std::string>& command = parsed->command;
  bool tty = parsed->tty;

  // The command gets pipes and ptys made here, never our own stdio (see ExecStdio); with -t
  // corrald allocates the pty inside the container, so ttyname() there finds /dev/pts/N as
  // `docker exec -t` gives it, and sends us its master.
  absl::StatusOr<std::unique_ptr<ExecStdio>> io = ExecStdio::Prepare(tty);
  if (!io.ok()) return Fail(io.status().message());
  auto call = NewManagerCall(bus, "Exec");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message* m = call->get();
  sd_bus_message_append(m, "s", name.c_str());
  sd_bus_message_open_container(m, 'a', "s");
  for (const std::string& c : command) sd_bus_message_append(m, "s", c.c_str());
  sd_bus_message_close_container(m);
  sd_bus_message_open_container(m, 'a', "{sv}");
  if (!env.empty()) {
    sd_bus_message_open_container(m, 'e', "sv");
    sd_bus_message_append(m, "s", "Environment");
    sd_bus_message_open_container(m, 'v', "as");
    sd_bus_message_open_container(m, 'a', "s");
    for (const std::string& e : env) sd_bus_message_append(m, "s", e.c_str());
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
  }
  if (!user.empty()) sd_bus_message_append(m, "{sv}", "User", "s", user.c_str());
  if (!cwd.empty()) sd_bus_message_append(m, "{sv}", "Cwd", "s", cwd.c_str());
  if ((*io)->controlling_tty()) sd_bus_message_append(m, "{sv}", "Tty", "b", 1);
  if ((*io)->pty_receiver() >= 0) sd_bus_message_append(m, "{sv}", "PtyReceiver", "h", (*io)->pty_receiver());
  sd_bus_message_close_container(m);
  int r = sd_bus_message_append(m, "hhh", (*io)->command_fd(0), (*io)->command_fd(1), (*io)->command_fd(2));
  if (r < 0) return Fail(ErrorSentence(nullptr, r));

  // Call asynchronously and relay until the reply comes.
  struct Outcome {
    bool done = false;
    int status = kExitFailed;
    std::string error;
  } outcome;
  r = sd_bus_call_async(
      bus, nullptr, m,
      [](sd_bus_message* reply, void* data, sd_bus_error*) -> int {
        auto* out = static_cast<Outcome*>(data);
        out->done = true;
        const sd_bus_error* e = sd_bus_message_get_error(reply);
        if (e != nullptr) {
          out->error = ErrorSentence(e, -sd_bus_message_get_errno(reply));
        } else {
          int32_t s = kExitFailed;
          sd_bus_message_read(reply, "i", &s);
          out->status = s;
        }
        return 0;
      },
      &outcome, UINT64_MAX);
  if (r < 0) return Fail(ErrorSentence(nullptr, r));
  call->reset();  // the message holds copies of the command's fds until it is freed
  (*io)->CallSent();
  BusReplyWait reply(bus, &outcome.done);
  absl::Status relayed = (*io)->Relay(reply);
  io->reset();  // the terminal back to how it was before any message
  if (!relayed.ok()) return Fail(relayed.message());
  if (!outcome.error.empty()) return Fail(outcome.error);
  return outcome.status;
}

}  // namespace corral::tools::ctl
