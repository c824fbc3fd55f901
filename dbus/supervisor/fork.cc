// ForkSupervisor: corrald's side of starting a supervisor (the process is supervisor.cc).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "common/errors.h"
#include "common/files.h"
#include "common/syscalls.h"
#include "dbus/supervisor/supervisor.h"
#include "dbus/supervisor/supervisor_main.h"

namespace corral::dbus {

absl::StatusOr<SupervisorHandle> ForkSupervisor(const SupervisorLaunch& launch) {
  int go[2], report[2], requests[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return ErrnoError("pipe for the supervisor");
  UniqueFd go_read(go[0]), go_write(go[1]);
  if (::pipe2(report, O_CLOEXEC) != 0) return ErrnoError("pipe for the supervisor");
  UniqueFd report_read(report[0]), report_write(report[1]);
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, requests) != 0) {
    return ErrnoError("socketpair for the supervisor's exec requests");
  }
  UniqueFd requests_ours(requests[0]), requests_theirs(requests[1]);

  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError("fork the supervisor");
  if (pid == 0) {
    // The child of a single-threaded daemon: it must not touch corrald's bus or event loop,
    // and leaves by _exit so none of corrald's destructors run here.
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGCHLD, SIG_DFL);
    ::setsid();
    ::prctl(PR_SET_NAME, "corral-superv");  // ps and systemd-cgls tell it from corrald
    // Its own process, outside corrald's loop: it may wait for the leases lock.
    FileLock::SetNonBlocking(false);
    // Keep stdio (corrald's journal stream), the two pipe ends, the exec request socket and
    // the volumes' mounts, close everything else. The copies land above every target number,
    // so the dup2s below never overwrite one not yet moved.
    const int staging = kFirstVolumeFd + static_cast<int>(launch.volume_trees.size()) + 10;
    int go_fd = ::fcntl(go_read.get(), F_DUPFD, staging);
    int report_fd = ::fcntl(report_write.get(), F_DUPFD, staging);
    int requests_fd = ::fcntl(requests_theirs.get(), F_DUPFD, staging);
    std::vector<int> trees;  // the volumes' mounts, to land on 6, 7, ...
    for (int tree : launch.volume_trees) trees.push_back(::fcntl(tree, F_DUPFD, staging));
    ::dup2(go_fd, kGoFd);
    ::dup2(report_fd, kReportFd);
    ::dup3(requests_fd, kExecRequestsFd, O_CLOEXEC);
    for (size_t i = 0; i < trees.size(); ++i) ::dup2(trees[i], kFirstVolumeFd + static_cast<int>(i));
    sys::CloseRange(kFirstVolumeFd + static_cast<unsigned>(trees.size()), ~0u, 0);
    // corrald raised its own fd limit for its many containers; a container gets the usual one
    // (1024, what select() can handle), as systemd gives its services. Only now, with
    // corrald's fds closed: lowered before, the dups above would fail once corrald holds more
    // than 1024.
    struct rlimit files;
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur > 1024) {
      files.rlim_cur = 1024;
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
    ::_exit(RunSupervisor(launch));
  }
  SupervisorHandle handle;
  handle.pid = pid;
  handle.pidfd.reset(sys::PidfdOpen(pid, 0));
  if (!handle.pidfd.valid()) {
    ::kill(pid, SIGKILL);
    return ErrnoError("pidfd_open of the supervisor");
  }
  handle.go = std::move(go_write);
  handle.report = std::move(report_read);
  handle.exec_requests = std::move(requests_ours);
  return handle;
}

}  // namespace corral::dbus
