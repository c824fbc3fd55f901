#include "dbus/restart_policy.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace corral::dbus {

absl::StatusOr<RestartPolicy> ParseRestartPolicy(absl::string_view text) {
  RestartPolicy policy;
  absl::string_view rest = text;
  if (text == "no" || text.empty()) return policy;
  if (text == "always") {
    policy.kind = RestartPolicy::Kind::kAlways;
    return policy;
  }
  if (absl::ConsumePrefix(&rest, "on-failure")) {
    policy.kind = RestartPolicy::Kind::kOnFailure;
    if (rest.empty()) return policy;
    uint32_t n = 0;
    if (absl::ConsumePrefix(&rest, ":") && !rest.empty() && rest[0] >= '0' && rest[0] <= '9' &&
        absl::SimpleAtoi(rest, &n) && n >= 1 && n <= 1000000) {
      policy.max_retries = n;
      return policy;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "restart policy \"", text, "\" is not no, on-failure, on-failure:N (N from 1) or always"));
}

std::string FormatRestartPolicy(const RestartPolicy& policy) {
  switch (policy.kind) {
    case RestartPolicy::Kind::kNo:
      return "no";
    case RestartPolicy::Kind::kAlways:
      return "always";
    case RestartPolicy::Kind::kOnFailure:
      return policy.max_retries == 0 ? "on-failure" : absl::StrCat("on-failure:", policy.max_retries);
  }
  return "no";
}

bool ShouldRestart(const RestartPolicy& policy, int exit_status, bool stopped_by_user, uint32_t restarts) {
  if (stopped_by_user) return false;
  switch (policy.kind) {
    case RestartPolicy::Kind::kNo:
      return false;
    case RestartPolicy::Kind::kAlways:
      return true;
    case RestartPolicy::Kind::kOnFailure:
      return exit_status != 0 && (policy.max_retries == 0 || restarts < policy.max_retries);
  }
  return false;
}

uint64_t RestartDelayUsec(uint32_t restarts) {
  constexpr uint64_t kFirst = 100'000, kMax = 30'000'000;
  if (restarts >= 9) return kMax;  // 100 ms << 9 = 51 s
  uint64_t delay = kFirst << restarts;
  return delay > kMax ? kMax : delay;
}

}  // namespace corral::dbus
