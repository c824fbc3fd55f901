#include "common/directory_syncs.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/unique_fd.h"

namespace corral {

namespace {

absl::Status SyncDirectory(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoError(absl::StrCat("open ", dir, " to fsync it"));
  if (::fsync(fd.get()) != 0) return ErrnoError(absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace

DirectorySyncs::~DirectorySyncs() { Wait().IgnoreError(); }

void DirectorySyncs::Sync(const std::string& dir) {
  // One fsync after the last change is all a directory needs: a second one started while the
  // first runs would cover nothing more (both begin after the entries changed).
  for (const auto& job : running_) {
    if (job->dir == dir) return;
  }
  auto job = std::make_unique<Job>();
  job->dir = dir;
  Job* raw = job.get();
  try {
    job->thread = std::thread([raw] { raw->status = SyncDirectory(raw->dir); });
  } catch (const std::system_error&) {
    // No thread to be had (EAGAIN): the fsync happens here, as it did before threads.
    raw->status = SyncDirectory(raw->dir);
  }
  running_.push_back(std::move(job));
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, mode_t mode,
                                 Durability durability, DirectorySyncs* directory_sync) {
  if (durability == Durability::kProcessCrashSafe || DurableWritesDisabled() || directory_sync == nullptr) {
    return WriteFileAtomically(path, contents, mode, durability);
  }
  absl::StatusOr<std::string> dir = WriteAndRename(path, contents, mode, /*fsync_file=*/true);
  if (!dir.ok()) return dir.status();
  directory_sync->Sync(*dir);
  return absl::OkStatus();
}

absl::Status DirectorySyncs::Wait() {
  absl::Status first;
  for (auto& job : running_) {
    if (job->thread.joinable()) job->thread.join();
    if (job->status.ok()) {
      synced_.push_back(job->dir);
    } else if (first.ok()) {
      first = job->status;
    }
  }
  running_.clear();
  return first;
}

}  // namespace corral
