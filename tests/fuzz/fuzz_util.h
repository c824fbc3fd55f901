// Shared by the libFuzzer harnesses (tests/fuzz/*_fuzz.cc, built and run by tools/fuzz.sh):
// what a parser must never do with outside input is crash, hang, leak or misread; where a
// format has a writer, parse(write(parse(x))) must write the same again (a value read back
// differently from how it was written is a misread).
#ifndef CORRAL_TESTS_FUZZ_FUZZ_UTIL_H_
#define CORRAL_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"

namespace corral::fuzz {

inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// Aborts (a finding) when what was written once reads back as something that writes otherwise.
template <typename Parse, typename Format>
void CheckRoundTrip(absl::string_view input, Parse parse, Format format) {
  auto first = parse(input);
  if (!first.ok()) return;
  std::string written = format(*first);
  auto second = parse(written);
  if (!second.ok()) {
    std::fprintf(stderr, "written text does not parse again: %s\n", std::string(second.status().message()).c_str());
    std::abort();
  }
  if (format(*second) != written) {
    std::fprintf(stderr, "round trip changed the value:\n--- once\n%s\n--- twice\n%s\n", written.c_str(),
                 format(*second).c_str());
    std::abort();
  }
}

}  // namespace corral::fuzz

#endif  // CORRAL_TESTS_FUZZ_FUZZ_UTIL_H_
