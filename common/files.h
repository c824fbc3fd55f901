// Small file helpers with errors that name the path: read a whole file, write one
// atomically (temp file + rename), create a directory tree.
#ifndef CORRAL_COMMON_FILES_H_
#define CORRAL_COMMON_FILES_H_

#include <sys/types.h>

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace corral {

absl::StatusOr<std::string> ReadFile(const std::string& path);

// Whether WriteFileAtomically fsyncs. kCrashSafe survives power loss with the new contents
// (fsync of the file before the rename, of its directory after: about 0.3 ms together on this
// disk, benchmarks/lease_bench); kProcessCrashSafe still never shows a half-written file (the
// rename is atomic) and skips both, for volatile files and for state where losing the last
// update to a power cut is harmless.
enum class Durability { kCrashSafe, kProcessCrashSafe };

// True when the environment has CORRAL_UNSAFE_NO_FSYNC=1 (read once): every kCrashSafe write
// is then done as kProcessCrashSafe and corral's other fsyncs are skipped. For
// benchmarks/durability_bench only, which measures what the fsyncs cost a create + start; never
// set it for a corrald that keeps real containers.
bool DurableWritesDisabled();

// Writes `contents` to `path` through a temporary file in the same directory and rename(2),
// so readers see the old or the new file, never a half-written one.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 mode_t mode = 0644, Durability durability = Durability::kCrashSafe);

// The first half of WriteFileAtomically: the temporary file written (and fsynced when
// `fsync_file`) and renamed over `path`, but its directory not fsynced; that is the caller's
// (common/directory_syncs.h hands it to a thread). Returns the directory to sync.
absl::StatusOr<std::string> WriteAndRename(const std::string& path, absl::string_view contents, mode_t mode,
                                           bool fsync_file);

// Writes `contents` to an existing file (procfs/sysfs/cgroupfs knobs), in one write(2).
absl::Status WriteExistingFile(const std::string& path, absl::string_view contents);

// mkdir -p. Existing directories are fine; an existing non-directory is an error.
absl::Status MakeDirectories(const std::string& path, mode_t mode = 0755);

// rm -rf that stays on one file system (never crosses into a mount point).
absl::Status RemoveTree(const std::string& path);

// An exclusive flock on `path` (created 0600 if missing), held for as long as the object lives:
// the lock every read-modify-rename of a shared state file takes (leases, the uid pool).
class FileLock {
 public:
  static absl::StatusOr<FileLock> Take(const std::string& path);

  // For an event loop that must never wait on another process (corrald): every Take in this
  // process then tries once (LOCK_NB) and answers Unavailable while someone else holds the
  // lock; the caller retries from a timer. A forked child that may wait resets it.
  static void SetNonBlocking(bool non_blocking);
  // Tries once whatever the mode (LOCK_NB): Unavailable while another holder has it.
  static absl::StatusOr<FileLock> TryTake(const std::string& path);

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

// The start time (field 22, clock ticks since boot) out of /proc/PID/stat text; the command
// name before it may hold spaces and parentheses. With the pid, it names a process for good.
absl::StatusOr<uint64_t> ParseStatStartTime(absl::string_view stat);

}  // namespace corral

#endif  // CORRAL_COMMON_FILES_H_
