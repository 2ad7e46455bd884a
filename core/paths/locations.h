// Where Stockade keeps its policy and state by default, and what the OS says the current user's
// home and temp folders are. Implemented per OS (core/paths/linux, core/paths/win); every string
// returned is UTF-8. See docs/paths.md.
#ifndef STOCKADE_CORE_PATHS_LOCATIONS_H_
#define STOCKADE_CORE_PATHS_LOCATIONS_H_

#include <string>

#include "core/error.h"

namespace stockade::paths {

// Environment variables that override the defaults, so tests (and unusual deployments) can run
// isolated, several at once. An empty value counts as unset. Command-line flags, where a command
// has them, take precedence over these; that is the caller's business.
inline constexpr char kPolicyPathEnv[] = "STOCKADE_POLICY";
inline constexpr char kStateDirEnv[] = "STOCKADE_STATE_DIR";

// The policy file to load when none is given: $STOCKADE_POLICY verbatim when set, otherwise
//   Linux   /etc/stockade/policy.toml
//   Windows <ProgramData>\Stockade\policy.toml, where <ProgramData> comes from
//           SHGetKnownFolderPath(FOLDERID_ProgramData), else the ProgramData environment
//           variable, else C:\ProgramData.
// Never fails: the caller reports a missing or unreadable file when it opens it.
std::string DefaultPolicyPath();

// The state folder (journal, audit store, logs, secrets, the service's socket):
// $STOCKADE_STATE_DIR verbatim when set, otherwise /var/lib/stockade on Linux and
// <ProgramData>\Stockade on Windows (<ProgramData> as above).
std::string DefaultStateDir();

// The current user's home folder, normalised by the native rules.
//   Linux   $HOME when set, else the passwd entry of the effective uid (getpwuid_r).
//   Windows %USERPROFILE% when set, else GetUserProfileDirectoryW for the process token.
// Errors: kPathInvalid when the variable is set but not an absolute path (refused rather than
// ignored: "~/.ssh" in deny_read must not silently protect the wrong folder); kNotFound when no
// passwd entry or profile exists; kOs when the OS call fails.
Expected<std::string> CurrentUserHome();

// The temp folder, normalised by the native rules.
//   Linux   $TMPDIR when it is an absolute path, else /tmp (as glibc and most tools do).
//   Windows GetTempPathW (TMP, TEMP, USERPROFILE, then the Windows folder).
// Errors: kOs when GetTempPathW fails, kPathInvalid when what it returns does not normalise.
Expected<std::string> TempDir();

}  // namespace stockade::paths

#endif  // STOCKADE_CORE_PATHS_LOCATIONS_H_
