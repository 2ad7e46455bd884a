// Lexical path handling under each OS's rules, as pure string functions so that both rule sets
// are tested on both build targets. Nothing here touches the filesystem (resolving symlinks and
// junctions is the OS layer's job, e.g. when a workspace is granted).
//
// Normalised forms (UTF-8):
//   POSIX   "/a/b": absolute, single separators, no "." or ".." components, no trailing "/"
//           (except the root "/" itself). ".." is resolved lexically and never climbs above "/".
//   Windows "C:\a\b" or "\\server\share\a": "/" turned into "\", drive letter upper-case,
//           "\\?\C:\a" and "\\?\UNC\server\share\a" reduced to the ordinary forms, "." and ".."
//           resolved without climbing above the drive or share root, and trailing dots and
//           spaces stripped from each component (Windows ignores them: "secret." opens "secret").
//           Refused: relative and drive-relative ("C:foo", "\foo") paths, device paths ("\\.\",
//           "\\?\GLOBALROOT"), alternate data streams ("a:b" after the drive), NUL characters.
#ifndef STOCKADE_CORE_PATHS_PATH_RULES_H_
#define STOCKADE_CORE_PATHS_PATH_RULES_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stockade::paths {

enum class PathStyle { kPosix, kWindows };

// The rule set of the OS this binary was built for.
PathStyle NativeStyle();

// Returns the normalised form of the absolute path `path`, or kPathInvalid naming what is wrong.
Expected<std::string> Normalize(std::string_view path, PathStyle style);

// True when `path` is absolute under `style` (POSIX "/..."; Windows "X:\..." or UNC).
bool IsAbsolute(std::string_view path, PathStyle style);

// Splits a normalised path into its root ("/", "C:\", "\\server\share\") and components.
struct SplitPath {
  std::string root;
  std::vector<std::string> components;
};
SplitPath Split(std::string_view normalized, PathStyle style);

// Compares two normalised paths for equality: byte-wise on POSIX, case-insensitively on Windows
// (ordinal upper-case folding of ASCII and of the Latin-1, Latin Extended-A, Greek and Cyrillic
// letters; see docs/paths.md for what that does not cover).
bool Equal(std::string_view a, std::string_view b, PathStyle style);

// True when `path` is `root` or lies below it, compared component by component (so "/srv/app" is
// not inside "/srv/application", and "/srv/app/../x" is not inside "/srv/app"). Both arguments are
// normalised first; an argument that does not normalise is never inside anything.
bool IsWithin(std::string_view path, std::string_view root, PathStyle style);

// Joins a normalised base and a relative path (which may use either separator on Windows) and
// normalises the result. kPathInvalid if `relative` is absolute or climbs above `base`.
Expected<std::string> JoinWithin(std::string_view base, std::string_view relative, PathStyle style);

}  // namespace stockade::paths

#endif  // STOCKADE_CORE_PATHS_PATH_RULES_H_
