// The unprovisioned mode of `stockade run` on Windows: no service, no sandbox account. The policy
// is loaded here and turned into a LaunchSpec by the service's own builder
// (runner/service/spec_builder.h) with a same-user identity; the tree is launched by this process
// (runner/win/launcher.h: a write-restricted copy of the caller's own token, a job object) and
// gets this process's stdio (a pseudoconsole when that is a console, runner/win/pseudo_console.h).
// What that cannot guarantee: UnprovisionedLimitsText() and
// docs/runner-windows.md.
#ifndef STOCKADE_RUNNER_CLIENT_WIN_LOCAL_RUN_H_
#define STOCKADE_RUNNER_CLIENT_WIN_LOCAL_RUN_H_

#include <windows.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"
#include "runner/client/client.h"
#include "runner/win/token.h"

namespace stockade::runner::client::win_os {

struct LocalRun {
  std::string identity;   // "offline" | "online": which network section applies
  std::string workspace;  // resolved
  std::string cwd;        // resolved, inside the workspace
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::chrono::milliseconds timeout{0};
  std::string policy_path;  // "" = $STOCKADE_POLICY or the default (embedded when missing)
  // The tree's stdio; all nullptr = this process's own stdin/stdout/stderr (`stockade run`).
  // The selftest passes its capture pipe (stdin then becomes the NUL device).
  HANDLE stdin_handle = nullptr;
  HANDLE stdout_handle = nullptr;
  HANDLE stderr_handle = nullptr;
  // kStrict for `stockade run`. Only `stockade selftest` sets kWineSelftestBestEffort
  // (LaunchOptions::token_check: honoured under Wine alone).
  runner::win_os::TokenCheck token_check = runner::win_os::TokenCheck::kStrict;
};

// Loads the policy, builds the spec, makes the run's private temp folder (TMP and TEMP point
// there), launches the tree with this process's stdin/stdout/stderr, kills the whole tree on
// Ctrl-C / Ctrl-Break / console close, waits for it, removes the temp folder.
// Errors: the policy loader's, the spec builder's, ProcessTree::Launch's and Wait's;
// *failure_status gets the exit status that goes with the error (2, 125, 126, 127).
// `token_unverified` (optional) receives ProcessTree::token_unverified(): what of the tree's token
// could not be verified (non-empty only with run.token_check best effort, under Wine).
Expected<RunOutcome> RunUnprovisioned(const LocalRun& run, int* failure_status,
                                      std::vector<std::string>* token_unverified = nullptr);

}  // namespace stockade::runner::client::win_os

#endif  // STOCKADE_RUNNER_CLIENT_WIN_LOCAL_RUN_H_
