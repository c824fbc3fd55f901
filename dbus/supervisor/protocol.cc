#include "dbus/supervisor/protocol.h"

#include <algorithm>
#include <variant>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace corral::dbus {
namespace {

// What would end the line or a field early becomes a space.
std::string Clean(absl::string_view text, absl::string_view forbidden) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || forbidden.find(c) != absl::string_view::npos) c = ' ';
  }
  return out;
}

absl::Status Malformed(absl::string_view line) {
  return absl::InvalidArgumentError(absl::StrCat("malformed supervisor report \"", line, "\""));
}

}  // namespace

std::string FormatReport(const PhasesReport& report) {
  std::vector<std::string> items;
  for (const auto& [name, us] : report.phases) items.push_back(absl::StrCat(Clean(name, ";="), "=", us));
  return absl::StrCat("phases ", absl::StrJoin(items, ";"));
}

std::string FormatReport(const OkReport& report) {
  return absl::StrCat("ok ", report.leader, report.addresses.empty() ? "" : " ", absl::StrJoin(report.addresses, " "));
}

std::string FormatReport(const ReadyReport&) { return "ready"; }

std::string FormatReport(const ErrorReport& report) { return absl::StrCat("error ", Clean(report.message, "")); }

std::string FormatReport(const ExitReport& report) { return absl::StrCat("exit ", report.status); }

std::string FormatReport(const Report& report) {
  return std::visit([](const auto& message) { return FormatReport(message); }, report);
}

absl::StatusOr<PhasesReport> ParsePhasesReport(absl::string_view line) {
  if (!absl::ConsumePrefix(&line, "phases ")) return Malformed(line);
  PhasesReport report;
  // An item that is not NAME=US is skipped, the others kept (as corrald always read them): one
  // bad figure costs that figure, not the start's breakdown.
  for (absl::string_view item : absl::StrSplit(line, ';', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> phase = absl::StrSplit(item, absl::MaxSplits('=', 1));
    uint64_t us = 0;
    if (phase.first.empty() || !absl::SimpleAtoi(phase.second, &us)) continue;
    report.phases.emplace_back(std::string(phase.first), us);
  }
  return report;
}

absl::StatusOr<OkReport> ParseOkReport(absl::string_view line) {
  if (!absl::ConsumePrefix(&line, "ok ")) return Malformed(line);
  std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
  OkReport report;
  if (words.empty() || !absl::SimpleAtoi(words[0], &report.leader) || report.leader <= 0) return Malformed(line);
  report.addresses.assign(words.begin() + 1, words.end());
  return report;
}

absl::StatusOr<ReadyReport> ParseReadyReport(absl::string_view line) {
  if (line != "ready") return Malformed(line);
  return ReadyReport{};
}

absl::StatusOr<ErrorReport> ParseErrorReport(absl::string_view line) {
  if (!absl::ConsumePrefix(&line, "error ")) return Malformed(line);
  return ErrorReport{std::string(line)};
}

absl::StatusOr<ExitReport> ParseExitReport(absl::string_view line) {
  ExitReport report;
  if (!absl::ConsumePrefix(&line, "exit ") || !absl::SimpleAtoi(line, &report.status)) return Malformed(line);
  return report;
}

absl::StatusOr<Report> ParseReport(absl::string_view line) {
  absl::string_view word = line.substr(0, line.find(' '));
  auto as_report = [](auto parsed) -> absl::StatusOr<Report> {
    if (!parsed.ok()) return parsed.status();
    return Report(std::move(*parsed));
  };
  if (word == "phases") return as_report(ParsePhasesReport(line));
  if (word == "ok") return as_report(ParseOkReport(line));
  if (word == "ready") return as_report(ParseReadyReport(line));
  if (word == "error") return as_report(ParseErrorReport(line));
  if (word == "exit") return as_report(ParseExitReport(line));
  return absl::InvalidArgumentError(absl::StrCat("unknown supervisor report \"", line, "\""));
}

std::vector<std::string> TakeReportLines(std::string* buffer) {
  std::vector<std::string> lines;
  size_t start = 0, newline;
  while ((newline = buffer->find('\n', start)) != std::string::npos) {
    lines.push_back(buffer->substr(start, newline - start));
    start = newline + 1;
  }
  buffer->erase(0, start);
  return lines;
}

}  // namespace corral::dbus
