// The supervisor's state file (/run/corral/containers/NAME/state), which a restarted corrald
// reads to adopt a running container: never a crash, and what is written reads back the same.
#include "dbus/supervisor/state_file.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text = corral::fuzz::AsText(data, size);
  auto state = corral::dbus::ParseSupervisorState(text);
  // A state accepted must name real pids: corrald opens a pidfd for them.
  if (state.ok() && (state->supervisor <= 0 || state->leader <= 0)) std::abort();
  corral::fuzz::CheckRoundTrip(text, corral::dbus::ParseSupervisorState, corral::dbus::FormatSupervisorState);
  return 0;
}
