// The lines of a supervisor's report pipe ("ok LEADER ADDRESS...", "phases ...", "ready",
// "error ...", "exit N"), which corrald acts on: never a crash, an "ok" never without a real
// leader pid, and what is written reads back the same. The input is split into lines as
// corrald splits its report buffer.
#include "absl/strings/str_split.h"
#include "dbus/supervisor_wire.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (absl::string_view line : absl::StrSplit(corral::fuzz::AsText(data, size), '\n')) {
    auto report = corral::dbus::ParseSupervisorReport(line);
    if (report.ok() && report->kind == corral::dbus::SupervisorReport::Kind::kOk && report->leader <= 0) std::abort();
    corral::fuzz::CheckRoundTrip(line, corral::dbus::ParseSupervisorReport, corral::dbus::FormatSupervisorReport);
  }
  return 0;
}
