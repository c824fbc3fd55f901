// An exec request as the supervisor reads it from corrald (runtime/attach_wire.h).
#include "runtime/attach_wire.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  corral::fuzz::CheckRoundTrip(corral::fuzz::AsText(data, size), corral::runtime::DecodeAttachSpec,
                               [](const corral::runtime::AttachSpec& spec) {
                                 absl::StatusOr<std::string> bytes = corral::runtime::EncodeAttachSpec(spec);
                                 return bytes.ok() ? *bytes : std::string();
                               });
  return 0;
}
