// Progress of long image work (`image build debian`, `image import`) on a terminal: one status
// line on stderr, redrawn a few times a second (phase, bytes of the input read, elapsed), and
// quiet when stderr is no terminal or with --quiet (then the program's own output passes
// through as before). The formatting and debootstrap's phases are pure and tested apart.
#ifndef CORRAL_TOOLS_IMAGES_PROGRESS_H_
#define CORRAL_TOOLS_IMAGES_PROGRESS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace corral::images {

// Whether RunProgram shows progress: on by default when stderr is a terminal; --quiet turns it
// off (corralctl calls this once).
void SetProgressEnabled(bool enabled);
bool ProgressEnabled();

// "importing  120.0 MB / 300.0 MB  40%  0:12" (total 0: no size, no percentage).
std::string FormatProgress(absl::string_view phase, uint64_t done, uint64_t total, uint64_t elapsed_usec);

// debootstrap's "I: ..." lines as a phase ("I: Retrieving libc6 2.36-9" -> "retrieving libc6
// 2.36-9"); nullopt for other lines.
std::optional<std::string> DebootstrapPhase(absl::string_view line);

// What RunProgram shows while argv runs.
struct RunProgress {
  std::string phase;       // shown until the program's output says better
  std::string input_file;  // its bytes read by the program (or a child) are counted
  bool debootstrap_phases = false;
};

// Runs argv with a status line: its stdout and stderr are captured (printed whole when it
// fails), the line redrawn every 200 ms and cleared at the end.
absl::Status RunProgramWithProgress(const std::vector<std::string>& argv, const RunProgress& progress);

// How far process `pid` or one of its children has read `path` (the largest fdinfo "pos:" of
// an fd open on it); nullopt when none has it open.
std::optional<uint64_t> ReadPosition(pid_t pid, const std::string& path);

}  // namespace corral::images

#endif  // CORRAL_TOOLS_IMAGES_PROGRESS_H_
