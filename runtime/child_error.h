// The report a child writes to its parent when a step between clone and exec fails.
// The child may not allocate (it can be a raw clone of a multi-threaded parent), so the
// record is fixed-size and filled with plain byte copies; the parent turns it into a Status.
#ifndef CORRAL_RUNTIME_CHILD_ERROR_H_
#define CORRAL_RUNTIME_CHILD_ERROR_H_

#include <errno.h>
#include <unistd.h>

#include <cstddef>

#include "absl/status/status.h"

namespace corral::runtime {

struct ChildError {
  int err = 0;       // errno of the failing syscall
  int is_exec = 0;   // 1 when execve itself failed (command missing or not executable)
  char step[64] = {};     // "mount /proc", "pivot_root", "exec"
  char path[256] = {};    // the path or object involved, may be empty
};

// Copies at most size-1 bytes and terminates; async-signal-safe.
inline void CopyBounded(char* dst, size_t size, const char* src) {
  size_t i = 0;
  if (src != nullptr) {
    for (; i + 1 < size && src[i] != '\0'; ++i) dst[i] = src[i];
  }
  dst[i] = '\0';
}

// Appends `text`, then `number` in decimal when it is not negative, at dst[*n] (keeping room
// for the terminating NUL, which it writes); async-signal-safe. "/proc/self/fd/" + 7.
inline void AppendBounded(char* dst, size_t size, size_t* n, const char* text, long number = -1) {
  for (; text != nullptr && *text != '\0' && *n + 1 < size; ++text) dst[(*n)++] = *text;
  if (number >= 0) {
    char digits[20];
    int d = 0;
    unsigned long v = static_cast<unsigned long>(number);
    do {
      digits[d++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (d > 0 && *n + 1 < size) dst[(*n)++] = digits[--d];
  }
  dst[*n] = '\0';
}

// Fills `record` and writes it to `fd`. For the child side only; async-signal-safe.
inline void ReportChildError(int fd, const char* step, const char* path, int err, bool is_exec = false) {
  ChildError record;
  record.err = err;
  record.is_exec = is_exec ? 1 : 0;
  CopyBounded(record.step, sizeof(record.step), step);
  CopyBounded(record.path, sizeof(record.path), path);
  // A short write leaves the parent with a truncated record, which it reports as such.
  (void)!::write(fd, &record, sizeof(record));
}

// The parent's view: "step `path`: strerror (ENAME)". Exec failures carry the payload
// kExecFailurePayload so callers can map them to exit status 126/127 as a shell does.
absl::Status ChildErrorToStatus(const ChildError& record);

inline constexpr char kExecFailurePayload[] = "corral.dev/exec-failure";

// True when `status` came from a failed execve in the container.
bool IsExecFailure(const absl::Status& status);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_CHILD_ERROR_H_
