// Progress of `corralctl cp` and `export` on a terminal: one status line on stderr (phase,
// bytes and files so far, elapsed, as tools/images/progress.h draws it), redrawn at most five
// times a second and cleared at the end; nothing when stderr is no terminal or with --quiet
// (images::ProgressEnabled()).
#ifndef CORRAL_TOOLS_CTL_COPY_PROGRESS_H_
#define CORRAL_TOOLS_CTL_COPY_PROGRESS_H_

#include <cstdint>
#include <string>

namespace corral::tools {

class CopyProgress {
 public:
  // Starts counting for `phase` ("copying web:/data"); draws only if progress is enabled.
  explicit CopyProgress(std::string phase);
  ~CopyProgress();  // clears the line (when enabled)
  CopyProgress(const CopyProgress&) = delete;
  CopyProgress& operator=(const CopyProgress&) = delete;

  // `bytes` more copied; `file` when one more file (or directory, link) is done.
  void Add(uint64_t bytes, bool file);

  // The copy in progress in this process (the copy routines report to it), or null.
  static CopyProgress* Current();

  // "copying web:/data  1234 files  120.0 MB  0:05".
  static std::string Line(const std::string& phase, uint64_t files, uint64_t bytes, uint64_t elapsed_usec);

 private:
  void Draw(uint64_t now_usec);
  std::string phase_;
  bool enabled_;
  uint64_t start_usec_;
  uint64_t last_draw_usec_ = 0;
  uint64_t bytes_ = 0;
  uint64_t files_ = 0;
  bool drawn_ = false;
  CopyProgress* previous_;
};

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_COPY_PROGRESS_H_
