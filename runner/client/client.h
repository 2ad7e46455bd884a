// `stockade run`: the thin client. It asks the Stockade service to launch one command in a
// restricted process tree, relays the terminal (when there is one) between the user and the tree,
// forwards Ctrl-C/SIGTERM/SIGHUP, and turns how the tree ended into the exit status to use. The
// unprovisioned mode runs the tree itself instead, as the calling user, with the weaker
// guarantees listed in docs/runner-client.md.
//
// Portable: the OS halves live in runner/client/linux/ and runner/client/win/, each defining
// Run(). Nothing in here decides what the sandbox allows: the service (or, unprovisioned, the
// shared spec builder) derives that from the policy.
#ifndef STOCKADE_RUNNER_CLIENT_CLIENT_H_
#define STOCKADE_RUNNER_CLIENT_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "runner/protocol/messages.h"

namespace stockade::runner::client {

// Exit statuses of `stockade run`'s own outcomes. The same numbers are in
// cli/common/exit_codes.h (the cli static_asserts that they agree) and docs/exit-codes.md.
inline constexpr int kStatusUsage = 2;            // bad command line or request
inline constexpr int kStatusUnavailable = 8;      // the service is not running / not reachable
inline constexpr int kStatusRefused = 122;        // the service refused (not granted, not allowed,
                                                  // identity not provisioned)
inline constexpr int kStatusTimeout = 124;        // the tree was killed at its timeout
inline constexpr int kStatusSandbox = 125;        // the sandbox could not be set up
inline constexpr int kStatusNotExecutable = 126;  // the command exists but cannot be executed
inline constexpr int kStatusNotFound = 127;       // the command was not found

// Environment variable that selects the unprovisioned mode ("1"), like --unprovisioned.
inline constexpr char kUnprovisionedEnv[] = "STOCKADE_UNPROVISIONED";

// What the command line asked for. Paths may be relative (resolved against the current folder).
struct RunOptions {
  std::string identity = "offline";      // "offline" | "online"
  std::string workspace;                 // "" = the current folder
  std::chrono::milliseconds timeout{0};  // 0 = none
  std::vector<std::string> env;   // "NAME=VALUE" each, on top of the passed-through variables
  bool unprovisioned = false;     // no service: run the tree here, as the calling user
  std::string socket_path;        // "" = $STOCKADE_SOCKET, else <state dir>/stockaded.sock
  std::string policy_path;        // unprovisioned mode: the policy ("" = default / env)
  std::string state_dir;          // "" = $STOCKADE_STATE_DIR or the platform default
  std::vector<std::string> argv;  // the command and its arguments (not empty)
};

// How a tree ended, as the service (or the local launcher) reported it, plus what the client
// itself did to it.
struct RunOutcome {
  int code = 0;            // the exit code, or 128 + signal
  int signal = 0;          // the signal that ended the first process, 0 when it exited
  bool timed_out = false;  // killed at the timeout
  bool killed = false;     // killed on request (a Signal message, the client gone)
  int client_signal = 0;   // SIGINT/SIGTERM/SIGHUP the client received and forwarded (0: none)
};

// The exit status for `outcome`: 124 after a timeout; 128 + the client's signal when the user
// interrupted the run (what a shell reports for a command killed by that signal); otherwise the
// command's code (128 + N when signal N ended it).
int ExitStatusFor(const RunOutcome& outcome);

// The exit status for a failure the service reported at `stage` with the error code name `code`
// ("E_NOT_FOUND", ...): kAuthorize → 122; kExec → 127 for E_NOT_FOUND, else 126; kSetup,
// kService, kProtocol → 125.
int ExitStatusForServiceError(protocol::ErrorStage stage, std::string_view code);

// What Run() ended with: always the exit status to use; and, when Stockade itself failed (the
// service unreachable, the request refused, the sandbox or the command could not be started),
// the error to print. Which status goes with which failure:
//   8   the service is not reachable (kServiceUnavailable; the message says how to start it and
//       how to use --unprovisioned instead)
//   122 the service refused the request (its reason: E_NOT_GRANTED, E_NOT_PROVISIONED,
//       E_PERMISSION_DENIED for a caller that may not use it, ...)
//   125 the sandbox could not be set up, the service failed, or the protocol broke
//   126 the command is not executable; 127 the command was not found
//   2   a malformed option (kInvalidArgument / kPathInvalid found by the client itself)
struct RunResult {
  int exit_status = 0;
  std::optional<Error> error;
};

// Runs options.argv in the sandbox (through the service, or locally when unprovisioned) and
// relays stdio, terminal, signals and the exit status as described above. Never throws; returns
// once the tree is gone (whole tree killed on timeout, on SIGINT/SIGTERM/SIGHUP, and by the
// service when the client dies).
RunResult Run(const RunOptions& options);

// The text of `stockade run --help` that states what the unprovisioned mode cannot guarantee
// (one paragraph per platform; the OS half says which applies). Kept next to the code that
// has the limits.
const char* UnprovisionedLimitsText();

}  // namespace stockade::runner::client

#endif  // STOCKADE_RUNNER_CLIENT_CLIENT_H_
