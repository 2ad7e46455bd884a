// Exit codes of Stockade's executables: part of the interface fleet tools and scripts rely on
// (docs/exit-codes.md). Append, never renumber. `stockade run` passes the command's own status
// through, so its own failures use 124-127, the range `timeout` and `env` use for the same idea.
#ifndef STOCKADE_CLI_COMMON_EXIT_CODES_H_
#define STOCKADE_CLI_COMMON_EXIT_CODES_H_

#include "core/error.h"

namespace stockade::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;          // an error with no more specific code
inline constexpr int kExitUsage = 2;            // bad command line
inline constexpr int kExitPolicyInvalid = 3;    // policy file unreadable or invalid
inline constexpr int kExitNotElevated = 4;      // needs root / administrator
inline constexpr int kExitState = 5;            // state store corrupt, too new, or locked
inline constexpr int kExitNotImplemented = 6;   // the command exists but is not built yet
inline constexpr int kExitVerification = 7;     // a change read back wrong / integrity failed
inline constexpr int kExitUnavailable = 8;      // the service is not running or not reachable
inline constexpr int kExitDrift = 9;            // stockade-provision status: the system drifted
inline constexpr int kExitRunTimeout = 124;     // stockade run: the tree was killed at timeout
inline constexpr int kExitRunSandbox = 125;     // stockade run: the sandbox could not be set up
inline constexpr int kExitRunNotExecutable = 126;
inline constexpr int kExitRunNotFound = 127;
// stockade run: the service refused the request (workspace not granted or granted to another
// user, identity not provisioned or not allowed, caller not allowed). Below 124 so that it never
// collides with the command's own 124-127 meanings above.
inline constexpr int kExitRunRefused = 122;

// stockade selftest: an attack escaped, an allowed action failed, or a probe could not run.
inline constexpr int kExitSelftestFailed = 10;
// stockade selftest --unprovisioned: the only escapes are that mode's documented limits.
inline constexpr int kExitSelftestLimits = 11;

// The exit code for a failed operation, chosen from its stable error code.
int ExitCodeFor(const Error& error);

}  // namespace stockade::cli

#endif  // STOCKADE_CLI_COMMON_EXIT_CODES_H_
