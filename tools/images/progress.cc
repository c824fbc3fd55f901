#include "tools/images/progress.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/unique_fd.h"

namespace corral::images {
namespace {

int progress_state = -1;  // -1: not decided (stderr a terminal decides)

uint64_t MonotonicUsec() {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return uint64_t(now.tv_sec) * 1000000 + uint64_t(now.tv_nsec) / 1000;
}

std::string Megabytes(uint64_t bytes) { return absl::StrFormat("%.1f MB", static_cast<double>(bytes) / 1e6); }

}  // namespace

void SetProgressEnabled(bool enabled) { progress_state = enabled ? 1 : 0; }

bool ProgressEnabled() {
  if (progress_state < 0) progress_state = ::isatty(2) ? 1 : 0;
  return progress_state == 1;
}

std::string FormatProgress(absl::string_view phase, uint64_t done, uint64_t total, uint64_t elapsed_usec) {
  uint64_t seconds = elapsed_usec / 1000000;
  std::string elapsed = seconds >= 3600 ? absl::StrFormat("%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
                                        : absl::StrFormat("%d:%02d", seconds / 60, seconds % 60);
  std::string out(phase);
  if (total > 0) {
    uint64_t shown = done > total ? total : done;
    absl::StrAppend(&out, "  ", Megabytes(shown), " / ", Megabytes(total), "  ", shown * 100 / total, "%");
  } else if (done > 0) {
    absl::StrAppend(&out, "  ", Megabytes(done));
  }
  absl::StrAppend(&out, "  ", elapsed);
  return out;
}

std::optional<std::string> DebootstrapPhase(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  if (!absl::ConsumePrefix(&line, "I: ") || line.empty()) return std::nullopt;
  std::string phase(line);
  phase[0] = absl::ascii_tolower(static_cast<unsigned char>(phase[0]));
  while (!phase.empty() && phase.back() == '.') phase.pop_back();
  if (phase.size() > 60) phase = phase.substr(0, 57) + "...";
  return phase;
}

std::optional<uint64_t> ReadPosition(pid_t pid, const std::string& path) {
  std::vector<pid_t> pids = {pid};
  if (absl::StatusOr<std::string> children = ReadFile(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
      children.ok()) {
    for (absl::string_view c : absl::StrSplit(*children, ' ', absl::SkipEmpty())) {
      pid_t child = 0;
      if (absl::SimpleAtoi(c, &child)) pids.push_back(child);
    }
  }
  std::optional<uint64_t> best;
  for (pid_t p : pids) {
    std::string fd_dir = absl::StrCat("/proc/", p, "/fd");
    DIR* dir = ::opendir(fd_dir.c_str());
    if (dir == nullptr) continue;
    while (dirent* entry = ::readdir(dir)) {
      char target[4096];
      std::string link = absl::StrCat(fd_dir, "/", entry->d_name);
      ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
      if (n <= 0 || std::string(target, n) != path) continue;
      absl::StatusOr<std::string> info = ReadFile(absl::StrCat("/proc/", p, "/fdinfo/", entry->d_name));
      if (!info.ok()) continue;
      for (absl::string_view l : absl::StrSplit(*info, '\n')) {
        uint64_t pos = 0;
        if (absl::ConsumePrefix(&l, "pos:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(l), &pos)) {
          if (!best || pos > *best) best = pos;
        }
      }
    }
    ::closedir(dir);
  }
  return best;
}

absl::Status RunProgramWithProgress(const std::vector<std::string>& argv, const RunProgress& progress) {
  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0) return ErrnoError("pipe");
  UniqueFd read_end(output[0]), write_end(output[1]);
  std::string input;
  uint64_t total = 0;
  if (!progress.input_file.empty()) {
    char* real = ::realpath(progress.input_file.c_str(), nullptr);
    if (real != nullptr) {
      input = real;
      ::free(real);
      struct stat st;
      if (::stat(input.c_str(), &st) == 0 && S_ISREG(st.st_mode)) total = static_cast<uint64_t>(st.st_size);
    }
  }
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError("fork");
  if (pid == 0) {
    ::dup2(write_end.get(), 1);
    ::dup2(write_end.get(), 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  write_end.reset();
  const uint64_t start = MonotonicUsec();
  std::string captured, partial, phase = progress.phase;
  auto draw = [&](bool last) {
    uint64_t done = 0;
    if (!input.empty()) done = ReadPosition(pid, input).value_or(last ? total : 0);
    std::string line = FormatProgress(phase, done, total, MonotonicUsec() - start);
    ::fprintf(stderr, "\r\033[K%s", line.c_str());
    ::fflush(stderr);
  };
  uint64_t last_draw = 0;
  char buffer[4096];
  for (;;) {
    pollfd fd = {read_end.get(), POLLIN, 0};
    int ready = ::poll(&fd, 1, 200);
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) {
      ssize_t n = ::read(read_end.get(), buffer, sizeof(buffer));
      if (n <= 0) break;
      captured.append(buffer, n);
      if (captured.size() > (1 << 20)) captured.erase(0, captured.size() - (1 << 20));  // the tail is what helps
      partial.append(buffer, n);
      size_t newline;
      while ((newline = partial.find('\n')) != std::string::npos) {
        if (progress.debootstrap_phases) {
          if (std::optional<std::string> p = DebootstrapPhase(partial.substr(0, newline))) phase = *p;
        }
        partial.erase(0, newline + 1);
      }
    }
    if (MonotonicUsec() - last_draw >= 200000) {
      draw(false);
      last_draw = MonotonicUsec();
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid");
  }
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (ok) draw(true);
  ::fprintf(stderr, ok ? "\n" : "\r\033[K");
  if (ok) return absl::OkStatus();
  ::fwrite(captured.data(), 1, captured.size(), stderr);  // what it said, now that it matters
  std::string how = WIFEXITED(status) ? absl::StrCat("exited with status ", WEXITSTATUS(status))
                                      : absl::StrCat("was killed by signal ", WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) how = "could not be run (is it installed?)";
  return absl::InternalError(absl::StrCat(argv[0], " ", how, " (", absl::StrJoin(argv, " "), ")"));
}

}  // namespace corral::images
