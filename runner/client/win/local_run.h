// The unprovisioned mode of `stockade run` on Windows: no service, no sandbox account. The policy
// is loaded here and turned into a LaunchSpec by the service's own builder
// (runner/service/spec_builder.h) with a same-user identity; the tree is launched by this process
// (runner/win/launcher.h: a write-restricted copy of the caller's own token, a job object) and
// shares this console. What that cannot guarantee: UnprovisionedLimitsText() and
// docs/runner-windows.md.
#ifndef STOCKADE_RUNNER_CLIENT_WIN_LOCAL_RUN_H_
#define STOCKADE_RUNNER_CLIENT_WIN_LOCAL_RUN_H_

#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"
#include "runner/client/client.h"

namespace stockade::runner::client::win_os {

struct LocalRun {
  std::string identity;   // "offline" | "online": which network section applies
  std::string workspace;  // resolved
  std::string cwd;        // resolved, inside the workspace
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::chrono::milliseconds timeout{0};
  std::string policy_path;  // "" = $STOCKADE_POLICY or the default (embedded when missing)
};

// Loads the policy, builds the spec, makes the run's private temp folder (TMP and TEMP point
// there), launches the tree with this process's stdin/stdout/stderr, kills the whole tree on
// Ctrl-C / Ctrl-Break / console close, waits for it, removes the temp folder.
// Errors: the policy loader's, the spec builder's, ProcessTree::Launch's and Wait's;
// *failure_status gets the exit status that goes with the error (2, 125, 126, 127).
Expected<RunOutcome> RunUnprovisioned(const LocalRun& run, int* failure_status);

}  // namespace stockade::runner::client::win_os

#endif  // STOCKADE_RUNNER_CLIENT_WIN_LOCAL_RUN_H_
