// Starts ONE restricted process tree on Windows and watches it to its end; the Windows
// counterpart of runner/linux/launcher.h, with the same contract (Launch / Wait / Kill /
// timeout / exit code / the whole tree killed).
//
// Launch():
//  1. checks the spec (ValidateWindowsLaunchSpec) and finds the program in the spec's PATH
//  (command_line.h);
//  2. the token:
//     - provisioned (spec.identity.same_user == false; the service, LocalSystem): the identity's
//       password from the DPAPI credential file -> LogonUserW (logon.h) -> CreateRestrictedToken
//       with restricting SIDs = the persisted write SID + the logon's logon SID (token.h);
//     - unprovisioned (same_user): the caller's own token -> CreateRestrictedToken with
//       restricting SIDs = the caller's logon SID, plus the write SID when the machine has one
//       persisted (a workspace granted by the provisioner is then writable; otherwise the tree
//       can write only where the logon SID is granted: nowhere on disk by default). No logon, no
//       service, same user: see docs/runner-windows.md for what this mode cannot guarantee;
//  3. the job (job.h: kill on close, no breakaway, process and memory limits, UI restrictions,
//     completion port), then CreateProcessAsUserW suspended -> assigned -> resumed, only the
//     stdio handles inherited, the environment exactly the spec's (job_tree.h).
//
// Not enforced by this launcher (documented, not hidden): protected_paths and deny_read are
// the provisioner's ACLs (deny ACEs set at grant time), and the network rules are the firewall
// rules scoped to the offline identity; the launcher neither walks nor changes ACLs per run.
#ifndef STOCKADE_RUNNER_WIN_LAUNCHER_H_
#define STOCKADE_RUNNER_WIN_LAUNCHER_H_

#include <windows.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "runner/launch_spec.h"
#include "runner/win/job_tree.h"
#include "runner/win/token.h"

namespace stockade::runner::win_os {

struct LaunchOptions {
  // The handles that become the tree's stdin, stdout and stderr; nullptr = the NUL device.
  // Duplicated for the child; the caller keeps (and closes) its own.
  HANDLE stdin_handle = nullptr;
  HANDLE stdout_handle = nullptr;
  HANDLE stderr_handle = nullptr;
  // The provisioner's credential file; "" = DefaultCredentialFile() (logon.h).
  std::string credential_file;
  // The write SID ("S-1-5-21-a-b-c-d"); "" = the one the provisioner persisted
  // (HKLM\SOFTWARE\Stockade\WriteSid). Provisioned launches fail without one.
  std::string write_sid;
  // CREATE_NO_WINDOW: the service has no console, and a console program started from it would
  // otherwise get a new visible console window. The unprovisioned client shares its own.
  bool no_window = false;
  // Puts the tree in this terminal-services session (the caller's, for the service). Needs
  // SeTcbPrivilege. nullopt = the session of the token (the service's session 0 for a logon).
  std::optional<DWORD> session_id;
  // A pseudoconsole (pseudo_console.h) for the tree instead of the three handles above: set when
  // the user's stdin and stdout are a console. See SpawnRequest::pseudo_console.
  void* pseudo_console = nullptr;
  // See SpawnRequest::before_resume (job_tree.h).
  std::function<Status(DWORD pid)> before_resume;
  // kStrict everywhere but in `stockade selftest` (runner/selftest/win), which asks for
  // kWineSelftestBestEffort so that its probes run under Wine, where the token cannot be read
  // back (token.h), nor can the job's limits (their read-back is then skipped); the tree reports
  // what was not verified (token_unverified()). Honoured only for an unprovisioned (same-user)
  // launch under Wine: a provisioned launch and real Windows are always strict.
  TokenCheck token_check = TokenCheck::kStrict;
};

class ProcessTree {
 public:
  // Starts the tree. Errors: kInvalidArgument from the spec check; kNotFound when the program
  // is not found or the identity has no credentials; kUnsupported for a batch file;
  // kPermissionDenied from the logon or CreateProcessAsUserW; kVerificationFailed when the
  // token or the job reads back wrong (under Wine: restricting SIDs are dropped); kNotFound /
  // kStateCorrupt when a provisioned launch finds no usable write SID.
  static Expected<ProcessTree> Launch(const LaunchSpec& spec, const LaunchOptions& options);

  ProcessTree(ProcessTree&&) noexcept = default;
  ProcessTree& operator=(ProcessTree&&) = delete;
  ProcessTree(const ProcessTree&) = delete;
  ProcessTree& operator=(const ProcessTree&) = delete;
  ~ProcessTree() = default;  // JobTree kills a tree whose Wait() did not finish

  DWORD pid() const { return tree_.pid(); }
  // Signalled once the first process has exited.
  HANDLE process() const { return tree_.process(); }
  const JobObject& job() const { return tree_.job(); }
  // Every process in the tree now.
  Expected<std::vector<DWORD>> Processes() const { return tree_.job().ProcessIds(); }
  // The restricting SIDs the tree's token was made with ("S-1-...").
  const std::vector<std::string>& restricting_sids() const { return restricting_sids_; }
  // What of the token could not be verified (RestrictedToken::unverified): empty unless
  // LaunchOptions::token_check allowed it under Wine.
  const std::vector<std::string>& token_unverified() const { return token_unverified_; }

  // Kills the whole tree now. Wait() still has to be called. Safe from another thread.
  Status Kill() { return tree_.Kill(); }
  // Waits for the first process (until the timeout, then kills the tree), kills what is left
  // and waits until the job is empty.
  Expected<ExitStatus> Wait() { return tree_.Wait(); }

 private:
  ProcessTree(JobTree tree, std::vector<std::string> sids, std::vector<std::string> unverified)
      : tree_(std::move(tree)),
        restricting_sids_(std::move(sids)),
        token_unverified_(std::move(unverified)) {}
  JobTree tree_;
  std::vector<std::string> restricting_sids_;
  std::vector<std::string> token_unverified_;
};

// Launch + Wait.
Expected<ExitStatus> RunTree(const LaunchSpec& spec, const LaunchOptions& options);

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_LAUNCHER_H_
