// stockade-probe's library: runs ONE probe (an attack or an allowed action from the catalog,
// runner/selftest/catalog.h) from inside the sandbox and says what happened. The OS halves
// (probes/linux/, probes/win/) define RunProbe; the arguments are "key=value" words chosen by
// the orchestrator (targets it prepared: canary paths, listener ports, a victim pid, ...).
#ifndef STOCKADE_RUNNER_SELFTEST_PROBES_PROBES_H_
#define STOCKADE_RUNNER_SELFTEST_PROBES_PROBES_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "runner/selftest/probe_report.h"

namespace stockade::runner::selftest {

class ProbeArgs {
 public:
  // Parses "key=value" words. Errors: kInvalidArgument naming a word without '=' or an empty
  // key, or a key given twice.
  static Expected<ProbeArgs> Parse(const std::vector<std::string>& words);

  bool Has(std::string_view key) const;
  // The value, or "" when absent.
  std::string Get(std::string_view key) const;
  // The value as a number; `fallback` when absent or not a number.
  long long GetInt(std::string_view key, long long fallback) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

// Performs the probe `name` with `args` and reports. Never throws; a probe unknown on this
// platform or missing an argument reports kFailed with the reason. Some probes start processes
// that outlive the probe on purpose (daemon, nohup, breakaway): judging them is the
// orchestrator's job.
ProbeReport RunProbe(std::string_view name, const ProbeArgs& args);

// Helpers for stockade-probe itself (not in the catalog): "victim" sleeps until killed and logs
// every catchable signal it receives to args["log"]; "euid" prints its effective uid. Return the
// process exit code. Platform-specific.
int RunHelper(std::string_view name, const ProbeArgs& args);
bool IsHelper(std::string_view name);

// Report builders.
ProbeReport Blocked(std::string_view probe, std::string evidence);
ProbeReport Escaped(std::string_view probe, std::string evidence);
ProbeReport Allowed(std::string_view probe, std::string evidence);
ProbeReport Failed(std::string_view probe, std::string evidence);

}  // namespace stockade::runner::selftest

#endif  // STOCKADE_RUNNER_SELFTEST_PROBES_PROBES_H_
