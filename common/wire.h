// The building blocks of corral's own binary messages (attach requests to a supervisor, exec
// requests on corrald's exec socket): native-endian u32s and NUL-terminated strings, read back
// by a reader that never reads past the message and says when it was cut short.
#ifndef CORRAL_COMMON_WIRE_H_
#define CORRAL_COMMON_WIRE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace corral::wire {

inline void PutU32(std::string* out, uint32_t value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

inline void PutString(std::string* out, const std::string& value) {
  out->append(value);
  out->push_back('\0');
}

inline void PutStrings(std::string* out, const std::vector<std::string>& values) {
  PutU32(out, static_cast<uint32_t>(values.size()));
  for (const std::string& v : values) PutString(out, v);
}

inline bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

inline bool AnyHasNul(const std::vector<std::string>& values) {
  for (const std::string& v : values) {
    if (HasNul(v)) return true;
  }
  return false;
}

class Reader {
 public:
  explicit Reader(absl::string_view bytes) : rest_(bytes) {}
  bool U32(uint32_t* value) {
    if (rest_.size() < sizeof(*value)) return false;
    std::memcpy(value, rest_.data(), sizeof(*value));
    rest_.remove_prefix(sizeof(*value));
    return true;
  }
  bool String(std::string* value) {
    size_t end = rest_.find('\0');
    if (end == absl::string_view::npos) return false;
    value->assign(rest_.data(), end);
    rest_.remove_prefix(end + 1);
    return true;
  }
  bool Strings(std::vector<std::string>* values) {
    uint32_t count = 0;
    // Each string takes at least its NUL: a count beyond what is left is a lie.
    if (!U32(&count) || count > rest_.size()) return false;
    values->resize(count);
    for (std::string& v : *values) {
      if (!String(&v)) return false;
    }
    return true;
  }
  bool done() const { return rest_.empty(); }

 private:
  absl::string_view rest_;
};

}  // namespace corral::wire

#endif  // CORRAL_COMMON_WIRE_H_
