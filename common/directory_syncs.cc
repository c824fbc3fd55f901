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
  // common/files.cc's write, with the directory's fsync left to the caller's join (kept apart
  // from files.h so that its many users need not change).
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return ErrnoError(absl::StrCat("create ", tmp));
  absl::Status status;
  for (absl::string_view rest = contents; status.ok() && !rest.empty();) {
    ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno != EINTR) status = ErrnoError(absl::StrCat("write ", tmp));
    if (n > 0) rest.remove_prefix(static_cast<size_t>(n));
  }
  if (status.ok() && ::fsync(fd.get()) != 0) status = ErrnoError(absl::StrCat("fsync ", tmp));
  fd.reset();
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoError(absl::StrCat("rename ", tmp, " to ", path));
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  size_t slash = path.rfind('/');
  directory_sync->Sync(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
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
