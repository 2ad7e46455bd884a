// The unprovisioned mode of `stockade run` on Linux: no service, no sandbox account. The policy
// is loaded here and turned into a LaunchSpec by the same builder the service uses
// (runner/service/spec_builder.h), with LaunchIdentity::same_user; the tree is launched by this
// process (runner/linux/launcher.h: user, PID and mount namespaces, Landlock, seccomp) and dies
// with it. What that cannot guarantee is listed in docs/runner-client.md and `stockade run --help`.
#ifndef STOCKADE_RUNNER_CLIENT_LINUX_UNPROVISIONED_H_
#define STOCKADE_RUNNER_CLIENT_LINUX_UNPROVISIONED_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "runner/client/linux/relay.h"

namespace stockade::runner::client::linux_os {

struct LocalRun {
  std::string identity;   // "offline" | "online": which network policy applies
  std::string workspace;  // resolved
  std::string cwd;        // resolved, inside the workspace
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::chrono::milliseconds timeout{0};
  std::string policy_path;      // "" = $STOCKADE_POLICY or the default (embedded when missing)
  int stdio[3] = {-1, -1, -1};  // the tree's stdin/stdout/stderr (-1: /dev/null)
  int controlling_tty = -1;     // the pty slave when a terminal is relayed, else -1
};

// Loads the policy, builds the spec (same user; "~" = the caller's home; "{temp}" = a private
// <temp>/stockade-run-XXXXXX), and launches the tree with the parent-death signal set. The
// session removes the temp folder when the tree is gone.
// Errors, with *failure_status set to the exit status for them: kInvalidArgument when called as
// root (the mode runs the command as the caller, and as root that is no sandbox; 125); a bad
// identity name (2); the policy loader's, the spec builder's and ProcessTree::Launch's (125,
// or 126 / 127 when the command cannot be executed / found).
Expected<std::unique_ptr<TreeSession>> StartUnprovisioned(const LocalRun& run, int* failure_status);

}  // namespace stockade::runner::client::linux_os

#endif  // STOCKADE_RUNNER_CLIENT_LINUX_UNPROVISIONED_H_
