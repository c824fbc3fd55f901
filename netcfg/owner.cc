#include "netcfg/owner.h"

#include <cerrno>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace corral::netcfg {
namespace {

constexpr char kBootIdPath[] = "/proc/sys/kernel/random/boot_id";
constexpr char kClaimPrefix[] = "corral/network/";

absl::StatusOr<std::string> CurrentBoot() {
  ASSIGN_OR_RETURN(std::string id, ReadFile(kBootIdPath));
  id = std::string(absl::StripAsciiWhitespace(id));
  if (id.size() < 8) return absl::InternalError(absl::StrCat(kBootIdPath, ": \"", id, "\" is not a boot id"));
  return id.substr(0, 8);
}

}  // namespace

absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid) {
  ProcessIdentity identity;
  identity.pid = pid;
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  ASSIGN_OR_RETURN(std::string stat, ReadFile(path));
  absl::StatusOr<uint64_t> start = ParseStatStartTime(stat);
  if (!start.ok()) return Annotate(start.status(), path);
  identity.start_time = *start;
  ASSIGN_OR_RETURN(identity.boot, CurrentBoot());
  return identity;
}

std::string RunLeaseName(const ProcessIdentity& identity) {
  return absl::StrCat("run-", identity.pid, "-", identity.start_time, "-", identity.boot);
}

std::optional<ProcessIdentity> ParseRunLeaseName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "run-")) return std::nullopt;
  std::vector<absl::string_view> parts = absl::StrSplit(name, '-');
  ProcessIdentity identity;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &identity.pid) || identity.pid <= 0 ||
      !absl::SimpleAtoi(parts[1], &identity.start_time) || parts[2].size() != 8 ||
      parts[2].find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return std::nullopt;
  }
  identity.boot = std::string(parts[2]);
  return identity;
}

RunLiveness RunLeaseLiveness(absl::string_view name) {
  std::optional<ProcessIdentity> wanted = ParseRunLeaseName(name);
  if (!wanted.has_value()) return RunLiveness::kNotARun;
  absl::StatusOr<ProcessIdentity> now = IdentifyProcess(wanted->pid);
  // A process that cannot be read is gone, or is not this one (a reboot: no boot id).
  return now.ok() && *now == *wanted ? RunLiveness::kAlive : RunLiveness::kDead;
}

std::string NetworkClaimName(absl::string_view container) { return absl::StrCat(kClaimPrefix, container); }

std::set<std::string> ParseHeldNetworkClaims(absl::string_view text) {
  // "Num: RefCount Protocol Flags Type St Inode Path", an abstract path shown as "@name".
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 8) continue;
    absl::string_view path = fields[7];
    if (absl::ConsumePrefix(&path, "@") && absl::ConsumePrefix(&path, kClaimPrefix) && !path.empty()) {
      names.insert(std::string(path));
    }
  }
  return names;
}

absl::StatusOr<std::set<std::string>> HeldNetworkClaims() {
  // thread-self: the claims are per network namespace, and tests move one thread only.
  ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/thread-self/net/unix"));
  return ParseHeldNetworkClaims(text);
}

}  // namespace corral::netcfg
