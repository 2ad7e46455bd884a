// Internal to core/policy: validation of the policy's path patterns before any expansion.
//
// Patterns are compared lexically, never on the filesystem (the loader runs before a workspace is
// known, and on machines where the paths may not exist). Each pattern is brought to a comparable
// form: an absolute path is normalised under its own style (POSIX "/a", Windows "C:\a" or UNC);
// a pattern starting with a placeholder is expanded with placeholders treated as opaque, distinct
// roots ({workspace} -> "/__stockade_workspace__", {temp} -> "/__stockade_temp__",
// ~ -> "/__stockade_home__", %NAME% and ${NAME} -> "/__stockade_env__/NAME") under POSIX rules,
// with "\" read as a separator. Two patterns are compared only when their forms have the same
// style. So "{workspace}" and "{workspace}/sub" overlap, "/srv" and "/srv/app" overlap, but
// "{workspace}" and "/srv" are not comparable here (the workspace is only known per run, where
// the runner and the grant step check the expanded paths).
#ifndef STOCKADE_CORE_POLICY_POLICY_PATH_CHECKS_H_
#define STOCKADE_CORE_POLICY_POLICY_PATH_CHECKS_H_

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/paths/path_rules.h"
#include "core/policy/policy.h"
#include "core/policy/policy_diagnostics.h"

namespace stockade::policy_internal {

// A pattern in the comparable form described above.
struct ComparablePath {
  paths::PathStyle style = paths::PathStyle::kPosix;
  std::string path;
};

// Brings an anchored pattern to its comparable form; kPathInvalid (from core/paths) otherwise.
Expected<ComparablePath> ToComparable(std::string_view pattern);

// Checks filesystem.writable_roots, .protected and .deny_read of `policy` (kPolicyInvalid, located
// by `locations`):
//   writable_roots: non-empty, anchored, no "..", normalisable, no duplicates, none inside another;
//   protected: a relative name (applies under every root; no "..", not rooted, not drive-relative)
//     or an anchored pattern lying strictly inside some writable root;
//   deny_read: non-empty, anchored, no "..", normalisable, no duplicates.
Status CheckPolicyPaths(const Policy& policy, const PathLocations& locations,
                        std::string_view source);

}  // namespace stockade::policy_internal

#endif  // STOCKADE_CORE_POLICY_POLICY_PATH_CHECKS_H_
