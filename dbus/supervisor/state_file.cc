#include "dbus/supervisor/state_file.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace corral::dbus {

std::string FormatSupervisorState(const SupervisorState& state) {
  return absl::StrCat("supervisor=", state.supervisor, "\nleader=", state.leader,
                      "\naddresses=", absl::StrJoin(state.addresses, " "), "\n");
}

absl::StatusOr<SupervisorState> ParseSupervisorState(absl::string_view text) {
  SupervisorState state;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.first == "supervisor" && !absl::SimpleAtoi(kv.second, &state.supervisor)) break;
    if (kv.first == "leader" && !absl::SimpleAtoi(kv.second, &state.leader)) break;
    if (kv.first == "addresses") state.addresses = absl::StrSplit(kv.second, ' ', absl::SkipEmpty());
  }
  if (state.supervisor <= 0 || state.leader <= 0) return absl::DataLossError("state file without supervisor and leader");
  return state;
}

}  // namespace corral::dbus
