// An exec request as corrald reads it from its exec socket, and the reply as corralctl reads it
// (dbus/exec_wire.h): what decodes encodes back to the same bytes.
#include "dbus/exec_wire.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text = corral::fuzz::AsText(data, size);
  corral::fuzz::CheckRoundTrip(text, corral::dbus::DecodeExecRequest, [](const corral::dbus::ExecRequest& request) {
    absl::StatusOr<std::string> bytes = corral::dbus::EncodeExecRequest(request);
    return bytes.ok() ? *bytes : std::string();
  });
  corral::fuzz::CheckRoundTrip(text, corral::dbus::DecodeExecReply, corral::dbus::EncodeExecReply);
  return 0;
}
