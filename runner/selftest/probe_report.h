// What one probe run inside the sandbox reports: one JSON line on stdout,
//   {"probe": NAME, "outcome": "blocked"|"escaped"|"allowed"|"failed", "evidence": TEXT}
// written by stockade-probe (runner/selftest/probes/) and read back by the selftest orchestrator
// (runner/selftest/selftest.h). Portable, no I/O.
#ifndef STOCKADE_RUNNER_SELFTEST_PROBE_REPORT_H_
#define STOCKADE_RUNNER_SELFTEST_PROBE_REPORT_H_

#include <string>
#include <string_view>

#include "core/error.h"

namespace stockade::runner::selftest {

// What the probe saw from inside:
//  - kBlocked: the attack was refused (the evidence names the call and the error);
//  - kEscaped: the attack did what it tried (the evidence says what it achieved);
//  - kAllowed: the action was performed. For an allowed action this is success; for an attack
//    whose effect can only be judged from outside (a process that should not outlive the run),
//    it means "attempted", and the orchestrator decides;
//  - kFailed: the probe could not make its attempt at all (a missing argument, an unexpected
//    error unrelated to the sandbox): neither a block nor an escape.
enum class ProbeOutcome { kBlocked, kEscaped, kAllowed, kFailed };

// "blocked", "escaped", "allowed", "failed".
const char* ProbeOutcomeName(ProbeOutcome outcome);

struct ProbeReport {
  std::string probe;
  ProbeOutcome outcome = ProbeOutcome::kFailed;
  std::string evidence;
};

// The report as one line of JSON (no trailing newline); invalid UTF-8 is replaced.
std::string FormatProbeLine(const ProbeReport& report);

// Finds the last line of `output` that is a probe report for `probe` and parses it (a probe's
// output may hold other lines: a compiler's messages, git's). Errors: kNotFound when no such line
// exists; kInvalidArgument naming the field when a line for `probe` is malformed.
Expected<ProbeReport> ParseProbeOutput(std::string_view output, std::string_view probe);

}  // namespace stockade::runner::selftest

#endif  // STOCKADE_RUNNER_SELFTEST_PROBE_REPORT_H_
