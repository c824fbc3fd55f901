// The lines of a supervisor's report pipe (dbus/supervisor/protocol.h: "ok LEADER ADDRESS...",
// "phases ...", "ready", "error ...", "exit N"), which corrald acts on: never a crash, an "ok"
// never without a real leader pid, and what is written reads back the same. The input is split
// into lines as corrald splits its report buffer.
#include <variant>

#include "absl/strings/str_split.h"
#include "dbus/supervisor/protocol.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (absl::string_view line : absl::StrSplit(corral::fuzz::AsText(data, size), '\n')) {
    auto report = corral::dbus::ParseReport(line);
    if (report.ok()) {
      const auto* ok = std::get_if<corral::dbus::OkReport>(&*report);
      if (ok != nullptr && ok->leader <= 0) std::abort();
    }
    corral::fuzz::CheckRoundTrip(line, corral::dbus::ParseReport,
                                 [](const corral::dbus::Report& r) { return corral::dbus::FormatReport(r); });
  }
  return 0;
}
