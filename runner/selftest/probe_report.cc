#include "runner/selftest/probe_report.h"

#include <nlohmann/json.hpp>
#include <vector>

namespace stockade::runner::selftest {

const char* ProbeOutcomeName(ProbeOutcome outcome) {
  switch (outcome) {
    case ProbeOutcome::kBlocked:
      return "blocked";
    case ProbeOutcome::kEscaped:
      return "escaped";
    case ProbeOutcome::kAllowed:
      return "allowed";
    case ProbeOutcome::kFailed:
      return "failed";
  }
  return "failed";
}

std::string FormatProbeLine(const ProbeReport& report) {
  // ordered_json: the probe name first, as people read the line.
  const nlohmann::ordered_json line = {{"probe", report.probe},
                                       {"outcome", ProbeOutcomeName(report.outcome)},
                                       {"evidence", report.evidence}};
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

Expected<ProbeOutcome> OutcomeFromName(const std::string& name) {
  for (ProbeOutcome o : {ProbeOutcome::kBlocked, ProbeOutcome::kEscaped, ProbeOutcome::kAllowed,
                         ProbeOutcome::kFailed}) {
    if (name == ProbeOutcomeName(o)) return o;
  }
  return Error(ErrorCode::kInvalidArgument, "probe report: unknown outcome '" + name + "'");
}

}  // namespace

Expected<ProbeReport> ParseProbeOutput(std::string_view output, std::string_view probe) {
  // Split into lines and walk them from the end: the report is printed last.
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= output.size()) {
    const std::size_t end = output.find('\n', start);
    const std::size_t stop = end == std::string_view::npos ? output.size() : end;
    std::string_view line = output.substr(start, stop - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->empty() || it->front() != '{') continue;
    nlohmann::json doc = nlohmann::json::parse(*it, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) continue;
    auto name = doc.find("probe");
    if (name == doc.end() || !name->is_string() || name->get<std::string>() != probe) continue;
    auto outcome = doc.find("outcome");
    auto evidence = doc.find("evidence");
    if (outcome == doc.end() || !outcome->is_string()) {
      return Error(ErrorCode::kInvalidArgument,
                   "probe report of '" + std::string(probe) + "': missing string field 'outcome'");
    }
    if (evidence == doc.end() || !evidence->is_string()) {
      return Error(ErrorCode::kInvalidArgument,
                   "probe report of '" + std::string(probe) + "': missing string field 'evidence'");
    }
    auto parsed = OutcomeFromName(outcome->get<std::string>());
    if (!parsed) return parsed.error();
    return ProbeReport{std::string(probe), *parsed, evidence->get<std::string>()};
  }
  return Error(ErrorCode::kNotFound,
               "no report line for probe '" + std::string(probe) + "' in its output");
}

}  // namespace stockade::runner::selftest
