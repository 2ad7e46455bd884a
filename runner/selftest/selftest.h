// `stockade selftest`: runs every probe of the catalog (runner/selftest/catalog.h) inside the
// sandbox, the way an agent's commands run (`stockade run ... -- stockade-probe NAME ARGS`, a
// subprocess: the real user path), checks their effects from outside (canaries, survivors, the
// victim process, listeners), and judges each: BLOCKED / ESCAPED for attacks, OK / FAIL for
// allowed actions. The OS half (selftest/linux, selftest/win) prepares the targets and runs the
// probes; this part judges, formats and picks the exit code. docs/selftest.md.
#ifndef STOCKADE_RUNNER_SELFTEST_SELFTEST_H_
#define STOCKADE_RUNNER_SELFTEST_SELFTEST_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "runner/selftest/catalog.h"
#include "runner/selftest/probe_report.h"

namespace stockade::runner::selftest {

struct SelftestOptions {
  std::string identity = "offline";  // "offline" | "online"
  std::string workspace;             // "" = the current folder (must be granted to the caller)
  bool unprovisioned = false;        // `stockade run --unprovisioned`: no service
  std::string socket_path;           // passed to `stockade run --socket`
  std::string policy_path;           // "" = $STOCKADE_POLICY or the default
  std::string state_dir;             // "" = $STOCKADE_STATE_DIR or the default
  std::string stockade_path;         // the `stockade` executable that runs the probes
  std::string probe_path;            // stockade-probe; "" = beside stockade_path
  std::vector<std::string> only;     // run just these probes (empty = all)
  std::chrono::seconds probe_timeout{120};
};

enum class Verdict {
  kBlocked,  // an attack that was refused
  kEscaped,  // an attack that worked: the sandbox has a hole
  kLimit,    // an attack that worked, and is a documented limit of the unprovisioned mode
  kOk,       // an allowed action that worked
  kFail,     // an allowed action that did not work, or a probe that could not run/report
  kSkipped,  // not applicable on this machine (no compiler, no setuid program...), with why
};

// "BLOCKED", "ESCAPED", "LIMIT", "OK", "FAIL", "SKIP".
const char* VerdictName(Verdict verdict);

// What the orchestrator saw of one probe, from inside (its report) and from outside.
struct Observation {
  std::string skip_reason;            // non-empty: not run here, and why
  int run_status = -1;                // the exit status of `stockade run`
  std::string run_output;             // its stdout and stderr
  std::optional<ProbeReport> report;  // the probe's line, when it printed one
  std::string report_error;           // why there is none
  std::vector<std::string> outside;   // effects found outside (canary changed, survivor...)
  std::vector<std::string> notes;     // outside checks that passed (for the evidence)
};

struct ProbeResult {
  const ProbeInfo* info = nullptr;
  Expectation expectation = Expectation::kBlocked;
  Verdict verdict = Verdict::kFail;
  std::string evidence;
  double seconds = 0;
  // Set when the verdict was reached with a sandbox that could not be verified on this platform
  // (Windows under Wine: the restricted token cannot be read back), e.g. "token not verified on
  // this platform (Wine 8.0)". Shown with the result in the table and the JSON.
  std::string label;
};

struct SelftestReport {
  std::string platform;  // "linux" | "windows"
  std::string identity;  // as asked
  bool unprovisioned = false;
  std::string workspace;
  // Non-empty when the probes ran with a sandbox whose token could not be verified (only under
  // Wine, runner/selftest/win): what could not be verified, and why. The table's header and the
  // JSON ("token_verified": false) say so; every result then carries a label.
  std::string token_unverified;
  std::vector<ProbeResult> results;

  int Count(Verdict verdict) const;
};

// The verdict for one probe. Attacks: an effect seen outside, or an "escaped" report, is
// ESCAPED (LIMIT when `unprovisioned` and the catalog documents it as a limit of that mode on
// this platform); "blocked" is BLOCKED; "allowed" is BLOCKED only for probes judged from outside
// (daemon, nohup, breakaway: nothing survived), ESCAPED otherwise; the memory probe's tree killed
// by SIGKILL before it could report is BLOCKED. Allowed actions: "allowed" with no outside
// effect is OK, anything else FAIL. A missing report or a "failed" one is FAIL.
ProbeResult Judge(const ProbeInfo& info, Expectation expectation, bool unprovisioned,
                  const Observation& observation);

// True for probes whose "allowed" report means "attempted": the orchestrator decides from
// outside whether anything outlived the run.
bool JudgedOutside(const ProbeInfo& info);

// The exit code of `stockade selftest` for `report`: 0 when every attack was BLOCKED and every
// allowed action OK (SKIPs aside); kSelftestFailed (10) when anything ESCAPED or FAILed;
// kSelftestLimits (11) when the only escapes are documented limits of the unprovisioned mode.
inline constexpr int kSelftestFailed = 10;
inline constexpr int kSelftestLimits = 11;
int SelftestExitCode(const SelftestReport& report);

// A table for people: probe, verdict, evidence (wrapped to `width` columns), then totals.
std::string FormatTable(const SelftestReport& report, int width = 120);
// The report as a JSON document (one object; "results" in run order).
std::string FormatJson(const SelftestReport& report);

// Called after each probe (progress on stderr, for example).
using ProgressFn = std::function<void(const ProbeResult&)>;

// This executable's own path (/proc/self/exe, GetModuleFileNameW), UTF-8; "" when unknown.
std::string ThisExecutablePath();

// Runs the selftest (the OS half). Errors: the probes cannot be run at all (stockade-probe
// missing, the workspace missing, the service unreachable or refusing: the error says which and
// carries the `stockade run` status in its context); per-probe failures are results, not errors.
Expected<SelftestReport> RunSelftest(const SelftestOptions& options, const ProgressFn& progress);

}  // namespace stockade::runner::selftest

#endif  // STOCKADE_RUNNER_SELFTEST_SELFTEST_H_
