#include "tools/ctl/copy_progress.h"

#include <stdio.h>
#include <time.h>

#include "absl/strings/str_cat.h"
#include "tools/images/progress.h"

namespace corral::tools {
namespace {

CopyProgress* g_current = nullptr;

uint64_t MonotonicUsec() {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return uint64_t(now.tv_sec) * 1000000 + uint64_t(now.tv_nsec) / 1000;
}

constexpr uint64_t kRedrawUsec = 200'000;

}  // namespace

CopyProgress::CopyProgress(std::string phase)
    : phase_(std::move(phase)), enabled_(images::ProgressEnabled()), start_usec_(MonotonicUsec()), previous_(g_current) {
  g_current = this;
  if (enabled_) Draw(start_usec_);  // at once: the phase says what runs, before any byte moved
}

CopyProgress::~CopyProgress() {
  g_current = previous_;
  // Also when only a forked copier (WithStoppedRoot's child) drew: its _exit cleared nothing.
  if (enabled_) ::fputs("\r\033[K", stderr);
}

CopyProgress* CopyProgress::Current() { return g_current; }

std::string CopyProgress::Line(const std::string& phase, uint64_t files, uint64_t bytes, uint64_t elapsed_usec) {
  return images::FormatProgress(absl::StrCat(phase, "  ", files, files == 1 ? " file" : " files"), bytes, 0,
                                elapsed_usec);
}

void CopyProgress::Add(uint64_t bytes, bool file) {
  bytes_ += bytes;
  if (file) ++files_;
  if (!enabled_) return;
  uint64_t now = MonotonicUsec();
  if (now - last_draw_usec_ >= kRedrawUsec) Draw(now);
}

void CopyProgress::Draw(uint64_t now_usec) {
  last_draw_usec_ = now_usec;
  drawn_ = true;
  std::string line = Line(phase_, files_, bytes_, now_usec - start_usec_);
  ::fprintf(stderr, "\r\033[K%s", line.c_str());
  ::fflush(stderr);
}

}  // namespace corral::tools
