// Internal to core/policy: how the loader words and locates its errors. Every policy error reads
// "<source>:<line>:<column>: <what is wrong and what was expected>", so that an administrator (or
// an editor parsing the output) can jump to the spot.
#ifndef STOCKADE_CORE_POLICY_POLICY_DIAGNOSTICS_H_
#define STOCKADE_CORE_POLICY_POLICY_DIAGNOSTICS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stockade::policy_internal {

// A 1-based position in the policy text; columns count Unicode code points, as toml++ does.
struct TextPosition {
  std::uint32_t line = 1;
  std::uint32_t column = 1;
};

// Where each path of the policy was written, parallel to Policy::filesystem's lists; nullopt for
// an entry that came from the base policy rather than from the text.
struct PathLocations {
  std::vector<std::optional<TextPosition>> writable_roots;
  std::vector<std::optional<TextPosition>> protected_paths;
  std::vector<std::optional<TextPosition>> deny_read;
};

// "<line>:<column>".
std::string PositionText(const TextPosition& position);

// Error(code, "<source>:<line>:<column>: <message>"), or "<source>: <message>" without a position
// (for values that came from the default rather than from the text).
Error PolicyError(ErrorCode code, std::string_view source, const std::optional<TextPosition>& at,
                  std::string_view message);

// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
// transpositions of adjacent characters, ASCII case ignored), if it is close enough to be a
// plausible typo: at most 2 edits, and fewer than half of `word`'s length. Otherwise nullopt.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string_view>& candidates);

// Quotes `text` for a message: "\"text\"", with '"' and control characters escaped. Backslashes
// are shown as they are, so that Windows paths read as they were written.
std::string Quote(std::string_view text);

}  // namespace stockade::policy_internal

#endif  // STOCKADE_CORE_POLICY_POLICY_DIAGNOSTICS_H_
