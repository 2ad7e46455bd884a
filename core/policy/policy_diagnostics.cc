#include "core/policy/policy_diagnostics.h"

#include <algorithm>
#include <cstdio>

namespace stockade::policy_internal {

namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a substring).
std::size_t EditDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = LowerAscii(a[i - 1]) == LowerAscii(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && LowerAscii(a[i - 1]) == LowerAscii(b[j - 2]) &&
          LowerAscii(a[i - 2]) == LowerAscii(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

}  // namespace

std::string PositionText(const TextPosition& position) {
  return std::to_string(position.line) + ":" + std::to_string(position.column);
}

Error PolicyError(ErrorCode code, std::string_view source, const std::optional<TextPosition>& at,
                  std::string_view message) {
  std::string context(source);
  if (at.has_value()) {
    // Appended piecewise: `":" + std::string` trips GCC 12's false -Wrestrict at -O3.
    context += ':';
    context += PositionText(*at);
  }
  context += ": ";
  context += message;
  return Error(code, std::move(context));
}

std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (std::string_view candidate : candidates) {
    std::size_t distance = EditDistance(word, candidate);
    if (!best.has_value() || distance < best_distance) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  // "Close enough": a typo, not a different word. Two edits at most, and fewer than half of the
  // word (so "abc" does not suggest "xyz", and a one-letter key suggests nothing).
  if (!best.has_value() || best_distance > 2 || best_distance * 2 >= word.size()) {
    return std::nullopt;
  }
  return best;
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02X", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace stockade::policy_internal
