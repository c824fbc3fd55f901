// corral-oci's OCI hooks (prestart, createRuntime, poststart, poststop, ...): each runs with
// the container's state JSON on stdin and is killed when its timeout passes.
#ifndef CORRAL_TOOLS_OCI_HOOKS_H_
#define CORRAL_TOOLS_OCI_HOOKS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "runtime/oci/config.h"

namespace corral::oci_cli {

absl::Status RunHook(const runtime::oci::Hook& hook, const std::string& state, absl::string_view kind);
// Runs `hooks` in order; the first failure ends it and is returned.
absl::Status RunHooks(const std::vector<runtime::oci::Hook>& hooks, const std::string& state, absl::string_view kind);

}  // namespace corral::oci_cli

#endif  // CORRAL_TOOLS_OCI_HOOKS_H_
