#include "dbus/supervisor_wire.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

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

absl::StatusOr<SupervisorReport> ParseSupervisorReport(absl::string_view line) {
  SupervisorReport report;
  if (absl::ConsumePrefix(&line, "ok ")) {
    report.kind = SupervisorReport::Kind::kOk;
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty() || !absl::SimpleAtoi(words[0], &report.leader) || report.leader <= 0) {
      return absl::InvalidArgumentError("report \"ok\" without a leader pid");
    }
    report.addresses.assign(words.begin() + 1, words.end());
  } else if (absl::ConsumePrefix(&line, "phases ")) {
    report.kind = SupervisorReport::Kind::kPhases;
    for (absl::string_view item : absl::StrSplit(line, ';', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> phase = absl::StrSplit(item, absl::MaxSplits('=', 1));
      uint64_t us = 0;
      if (!phase.first.empty() && absl::SimpleAtoi(phase.second, &us)) report.phases.emplace_back(phase.first, us);
    }
  } else if (line == "ready") {
    report.kind = SupervisorReport::Kind::kReady;
  } else if (absl::ConsumePrefix(&line, "error ")) {
    report.kind = SupervisorReport::Kind::kError;
    report.message = std::string(line);
  } else if (absl::ConsumePrefix(&line, "exit ")) {
    report.kind = SupervisorReport::Kind::kExit;
    if (!absl::SimpleAtoi(line, &report.exit_status)) return absl::InvalidArgumentError("report \"exit\" without a status");
  } else {
    return absl::InvalidArgumentError("not a supervisor report line");
  }
  return report;
}

std::string FormatSupervisorReport(const SupervisorReport& report) {
  switch (report.kind) {
    case SupervisorReport::Kind::kOk:
      return absl::StrCat("ok ", report.leader, report.addresses.empty() ? "" : " ", absl::StrJoin(report.addresses, " "));
    case SupervisorReport::Kind::kPhases: {
      std::vector<std::string> items;
      for (const auto& [name, us] : report.phases) items.push_back(absl::StrCat(name, "=", us));
      return absl::StrCat("phases ", absl::StrJoin(items, ";"));
    }
    case SupervisorReport::Kind::kReady:
      return "ready";
    case SupervisorReport::Kind::kError:
      return absl::StrCat("error ", report.message);
    case SupervisorReport::Kind::kExit:
      return absl::StrCat("exit ", report.exit_status);
  }
  return "";
}

}  // namespace corral::dbus
