// Directory fsyncs run off the caller's thread: a write that must survive a power cut hands
// the fsync of its directory here and goes on; the owner joins them (Wait) at the point from
// which the entries must be durable (a reply to the client, a container let go).
#ifndef CORRAL_COMMON_DIRECTORY_SYNCS_H_
#define CORRAL_COMMON_DIRECTORY_SYNCS_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/files.h"

namespace corral {

class DirectorySyncs {
 public:
  DirectorySyncs() = default;
  DirectorySyncs(const DirectorySyncs&) = delete;
  DirectorySyncs& operator=(const DirectorySyncs&) = delete;
  // Joins whatever is still running: no thread outlives its owner (nor a fork of it).
  ~DirectorySyncs();

  // Starts open + fsync of the directory `dir` on a thread of its own, at once: fsyncs of
  // one file system that overlap share the journal commit, and the caller's next step
  // overlaps them. A directory already being synced by this object is not synced twice.
  void Sync(const std::string& dir);

  // Joins every sync started so far; the first error (step, path, errno), or Ok once every
  // directory handed in is on disk. The object can be used again afterwards.
  absl::Status Wait();

  // The directories whose fsync has succeeded, in the order they were handed in (after Wait;
  // what tests check the durable points with).
  const std::vector<std::string>& synced() const { return synced_; }

 private:
  struct Job {
    std::string dir;
    absl::Status status;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Job>> running_;
  std::vector<std::string> synced_;
};

// WriteFileAtomically with the directory's fsync handed to `directory_sync`: with kCrashSafe
// the file is fsynced here, before the rename (a rename on disk ahead of the data could leave
// an empty file in place of the old one), and the new file survives a power cut once
// directory_sync->Wait() returns Ok; a cut before that brings back the old file, whole.
// kProcessCrashSafe (or CORRAL_UNSAFE_NO_FSYNC=1) syncs nothing, as WriteFileAtomically.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, mode_t mode,
                                 Durability durability, DirectorySyncs* directory_sync);

}  // namespace corral

#endif  // CORRAL_COMMON_DIRECTORY_SYNCS_H_
