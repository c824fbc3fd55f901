#include "tools/ctl/verbs.h"

#include <stdio.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace corral::tools::ctl {

int Fail(absl::string_view message, int code) {
  ::fprintf(stderr, "corralctl: %s\n", std::string(message).c_str());
  return code;
}

int Usage(absl::string_view message) { return Fail(absl::StrCat(message, " (see corralctl --help)"), kExitUsage); }

}  // namespace corral::tools::ctl
