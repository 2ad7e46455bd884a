// Lexical path handling under each OS's rules, as pure string functions so that both rule sets
// are tested on both build targets. Nothing here touches the filesystem (resolving symlinks and
// junctions is the OS layer's job, e.g. when a workspace is granted). docs/paths.md has the full
// rules and what they do not cover.
//
// Normalised forms (UTF-8):
//   POSIX   "/a/b": absolute, single separators, no "." or ".." components, no trailing "/"
//           (except the root "/" itself). ".." is resolved lexically and never climbs above "/".
//           Names are bytes: "\", trailing dots and non-UTF-8 bytes are ordinary name characters.
//           Symlinks are NOT resolved, so "/ws/link/.." normalises to "/ws" even when the OS would
//           go elsewhere: code that grants access must resolve and refuse symlinks itself.
//   Windows "C:\a\b" or "\\server\share\a": "/" turned into "\", drive letter upper-case (other
//           letters keep their case), "\\?\C:\a" and "\\?\UNC\server\share\a" reduced to the
//           ordinary forms, "." and ".." resolved without climbing above the drive or share root,
//           and trailing dots and spaces stripped from each component (Windows ignores them:
//           "secret." opens "secret"). A drive root keeps its backslash ("C:\"); a share root has
//           none ("\\server\share").
//           Refused: relative and drive-relative ("C:foo") paths, rooted paths without a drive
//           ("\foo"), device paths ("\\.\", "\\?\GLOBALROOT", "\\?\Volume{..}", "\??\"),
//           alternate data streams ("a:b" after the drive), NUL and other control characters,
//           the characters < > " | ? *, invalid UTF-8, reserved device names ("NUL", "con.txt",
//           "COM1"), components made only of dots and spaces ("..."), and — in "\\?\" paths only,
//           where Windows keeps them literally — components ending in a dot or space.
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

// Returns the normalised form of the absolute path `path`, or kPathInvalid whose context quotes
// the path and says what is wrong with it.
Expected<std::string> Normalize(std::string_view path, PathStyle style);

// True when `path` is absolute under `style` (POSIX "/..."; Windows "X:\", "X:/" or a path that
// starts with two separators: UNC, "\\?\", "\\.\"). Lexical only: an absolute path may still be
// refused by Normalize (e.g. a device path).
bool IsAbsolute(std::string_view path, PathStyle style);

// Splits a normalised path into its root ("/", "C:\", "\\server\share\") and components. A path
// without a recognisable root gives an empty root and all of its components.
struct SplitPath {
  std::string root;
  std::vector<std::string> components;
};
SplitPath Split(std::string_view normalized, PathStyle style);

// Compares two paths for equality: byte-wise on POSIX, case-insensitively on Windows (ordinal
// upper-case folding of ASCII and of the Latin-1, Latin Extended-A, Greek and Cyrillic letters,
// as NTFS's default upcase table does; see docs/paths.md for what that does not cover). Each
// argument is normalised first when it can be, so "C:\a." equals "c:/A".
bool Equal(std::string_view a, std::string_view b, PathStyle style);

// True when `path` is `root` or lies below it, compared component by component (so "/srv/app" is
// not inside "/srv/application", and "/srv/app/../x" is not inside "/srv/app"). Both arguments are
// normalised first; an argument that does not normalise is never inside anything.
bool IsWithin(std::string_view path, std::string_view root, PathStyle style);

// Joins a base and a relative path (which may use either separator on Windows) and normalises
// the result. kPathInvalid if `base` does not normalise, if `relative` is absolute, rooted or
// names a drive, or if any prefix of it climbs above `base` ("../base/x" is refused even though
// it ends up back inside). An empty `relative` returns the normalised base.
Expected<std::string> JoinWithin(std::string_view base, std::string_view relative, PathStyle style);

}  // namespace stockade::paths

#endif  // STOCKADE_CORE_PATHS_PATH_RULES_H_
