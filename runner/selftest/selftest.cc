#include "runner/selftest/selftest.h"

#include <nlohmann/json.hpp>
#include <sstream>

namespace stockade::runner::selftest {

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kBlocked:
      return "BLOCKED";
    case Verdict::kEscaped:
      return "ESCAPED";
    case Verdict::kLimit:
      return "LIMIT";
    case Verdict::kOk:
      return "OK";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kSkipped:
      return "SKIP";
  }
  return "FAIL";
}

int SelftestReport::Count(Verdict verdict) const {
  int n = 0;
  for (const ProbeResult& r : results) n += r.verdict == verdict ? 1 : 0;
  return n;
}

bool JudgedOutside(const ProbeInfo& info) {
  const std::string_view name = info.name;
  return name == "daemon" || name == "nohup" || name == "breakaway";
}

namespace {

std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

std::string Shorten(const std::string& text, std::size_t max) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    out += c;
  }
  if (out.size() > max) out = out.substr(0, max) + "...";
  return out;
}

Verdict Escape(const ProbeInfo& info, bool unprovisioned) {
  if (unprovisioned && UnprovisionedLimit(info, CurrentPlatform()) != nullptr) {
    return Verdict::kLimit;
  }
  return Verdict::kEscaped;
}

}  // namespace

ProbeResult Judge(const ProbeInfo& info, Expectation expectation, bool unprovisioned,
                  const Observation& obs) {
  ProbeResult result;
  result.info = &info;
  result.expectation = expectation;
  if (!obs.skip_reason.empty()) {
    result.verdict = Verdict::kSkipped;
    result.evidence = obs.skip_reason;
    return result;
  }
  const std::string inside = obs.report ? obs.report->evidence : std::string();
  const std::string outside = Join(obs.outside, "; ");
  const std::string notes = Join(obs.notes, "; ");
  auto no_report = [&]() {
    return "no report from the probe (" + obs.report_error + "); `stockade run` exited " +
           std::to_string(obs.run_status) + ": " + Shorten(obs.run_output, 300);
  };

  if (expectation == Expectation::kWorks) {
    if (!obs.report) {
      result.verdict = Verdict::kFail;
      result.evidence = no_report();
    } else if (!obs.outside.empty()) {
      result.verdict = Verdict::kFail;
      result.evidence = "outside: " + outside + "; inside: " + inside;
    } else if (obs.report->outcome == ProbeOutcome::kAllowed ||
               obs.report->outcome == ProbeOutcome::kEscaped) {
      result.verdict = Verdict::kOk;
      result.evidence = Join({inside, notes}, "; ");
    } else {
      result.verdict = Verdict::kFail;
      result.evidence =
          std::string(ProbeOutcomeName(obs.report->outcome)) + ", but this must work: " + inside;
    }
    return result;
  }

  // An attack.
  if (!obs.outside.empty()) {
    result.verdict = Escape(info, unprovisioned);
    result.evidence = "outside: " + outside + (inside.empty() ? "" : "; inside: " + inside);
    return result;
  }
  if (!obs.report) {
    // The memory probe's whole tree may be what the OOM killer picks.
    if (std::string_view(info.name) == "memory" && obs.run_status == 128 + 9) {
      result.verdict = Verdict::kBlocked;
      result.evidence = "the tree was killed by SIGKILL while allocating (memory limit)";
      return result;
    }
    result.verdict = Verdict::kFail;
    result.evidence = no_report();
    return result;
  }
  switch (obs.report->outcome) {
    case ProbeOutcome::kBlocked:
      result.verdict = Verdict::kBlocked;
      result.evidence = Join({inside, notes}, "; ");
      break;
    case ProbeOutcome::kEscaped:
      result.verdict = Escape(info, unprovisioned);
      result.evidence = inside;
      break;
    case ProbeOutcome::kAllowed:
      if (JudgedOutside(info)) {
        result.verdict = Verdict::kBlocked;
        result.evidence = Join({inside, notes}, "; ");
      } else {
        result.verdict = Escape(info, unprovisioned);
        result.evidence = inside;
      }
      break;
    case ProbeOutcome::kFailed:
      result.verdict = Verdict::kFail;
      result.evidence = "the probe could not make its attempt: " + inside;
      break;
  }
  if (result.verdict == Verdict::kLimit) {
    result.evidence +=
        " [documented limit: " + std::string(UnprovisionedLimit(info, CurrentPlatform())) + "]";
  }
  return result;
}

int SelftestExitCode(const SelftestReport& report) {
  if (report.Count(Verdict::kEscaped) > 0 || report.Count(Verdict::kFail) > 0) {
    return kSelftestFailed;
  }
  if (report.Count(Verdict::kLimit) > 0) return kSelftestLimits;
  return 0;
}

namespace {

std::vector<std::string> Wrap(const std::string& text, std::size_t width) {
  std::vector<std::string> lines;
  std::string rest = Shorten(text, 2000);
  while (rest.size() > width) {
    std::size_t cut = rest.rfind(' ', width);
    if (cut == std::string::npos || cut < width / 2) cut = width;
    lines.push_back(rest.substr(0, cut));
    rest = rest.substr(cut);
    if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
  }
  lines.push_back(rest);
  return lines;
}

}  // namespace

std::string FormatTable(const SelftestReport& report, int width) {
  std::ostringstream out;
  out << "Stockade selftest on " << report.platform << ", identity " << report.identity
      << (report.unprovisioned ? " (unprovisioned mode: no service)" : "") << ", workspace "
      << report.workspace << "\n";
  if (!report.token_unverified.empty()) {
    out << "WARNING: the sandbox's token could not be verified on this platform, so these results "
           "show what this platform enforces, not what Stockade enforces on Windows: "
        << report.token_unverified << "\n";
  }
  out << "\n";
  constexpr std::size_t kNameWidth = 18;
  constexpr std::size_t kVerdictWidth = 9;
  const std::size_t evidence_width =
      std::max<int>(40, width - static_cast<int>(kNameWidth + kVerdictWidth + 2));
  auto pad = [](std::string s, std::size_t n) {
    if (s.size() < n) s.append(n - s.size(), ' ');
    return s;
  };
  out << pad("PROBE", kNameWidth) << " " << pad("RESULT", kVerdictWidth) << " EVIDENCE\n";
  for (const ProbeResult& r : report.results) {
    const std::vector<std::string> lines =
        Wrap(r.label.empty() ? r.evidence : "[" + r.label + "] " + r.evidence, evidence_width);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      out << pad(i == 0 ? r.info->name : "", kNameWidth) << " "
          << pad(i == 0 ? VerdictName(r.verdict) : "", kVerdictWidth) << " " << lines[i] << "\n";
    }
  }
  int attacks = 0;
  int allowed = 0;
  for (const ProbeResult& r : report.results) {
    if (r.verdict == Verdict::kSkipped) continue;
    (r.expectation == Expectation::kBlocked ? attacks : allowed)++;
  }
  out << "\n"
      << attacks << " attacks: " << report.Count(Verdict::kBlocked) << " blocked, "
      << report.Count(Verdict::kEscaped) << " escaped";
  if (report.unprovisioned) {
    out << ", " << report.Count(Verdict::kLimit) << " escaped as documented limits";
  }
  out << "; " << allowed << " allowed actions: " << report.Count(Verdict::kOk) << " ok; "
      << report.Count(Verdict::kFail) << " failed; " << report.Count(Verdict::kSkipped)
      << " skipped\n";
  const int code = SelftestExitCode(report);
  out << (code == 0 ? "PASS: every attack was blocked and every allowed action works"
          : code == kSelftestLimits ? "LIMITS: only the unprovisioned mode's documented limits "
                                      "escaped (docs/selftest.md)"
                                    : "FAIL: the sandbox let something through or blocked "
                                      "something it must allow")
      << "\n";
  return out.str();
}

std::string FormatJson(const SelftestReport& report) {
  nlohmann::json results = nlohmann::json::array();
  for (const ProbeResult& r : report.results) {
    results.push_back({{"probe", r.info->name},
                       {"kind", r.info->kind == ProbeKind::kAttack ? "attack" : "allowed"},
                       {"expected", r.expectation == Expectation::kBlocked ? "blocked" : "works"},
                       {"result", VerdictName(r.verdict)},
                       {"evidence", r.evidence},
                       {"attempts", r.info->attempts},
                       {"seconds", r.seconds}});
    if (!r.label.empty()) results.back()["label"] = r.label;
  }
  const int code = SelftestExitCode(report);
  nlohmann::json doc = {{"ok", code == 0},
                        {"platform", report.platform},
                        {"identity", report.identity},
                        {"unprovisioned", report.unprovisioned},
                        {"workspace", report.workspace},
                        {"token_verified", report.token_unverified.empty()},
                        {"exit_code", code},
                        {"counts",
                         {{"blocked", report.Count(Verdict::kBlocked)},
                          {"escaped", report.Count(Verdict::kEscaped)},
                          {"limit", report.Count(Verdict::kLimit)},
                          {"ok", report.Count(Verdict::kOk)},
                          {"fail", report.Count(Verdict::kFail)},
                          {"skipped", report.Count(Verdict::kSkipped)}}},
                        {"results", results}};
  if (!report.token_unverified.empty()) doc["token_unverified"] = report.token_unverified;
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace stockade::runner::selftest
