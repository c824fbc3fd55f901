// Text that must be valid UTF-8 on its way out (D-Bus strings: sd-bus will not send a message
// that is not, and the caller then gets no reply at all).
#ifndef CORRAL_COMMON_UTF8_H_
#define CORRAL_COMMON_UTF8_H_

#include <string>

#include "absl/strings/string_view.h"

namespace corral {

// Whether `text` is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// `text` with every byte that is not part of a valid UTF-8 sequence written as "\xNN" (so the
// reader still sees which byte it was), and NUL as "\x00". Valid text comes back unchanged.
std::string ValidUtf8(absl::string_view text);

}  // namespace corral

#endif  // CORRAL_COMMON_UTF8_H_
