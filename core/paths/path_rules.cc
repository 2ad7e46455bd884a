#include "core/paths/path_rules.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>

namespace stockade::paths {

namespace {

// ---------------------------------------------------------------------------------------------
// UTF-8

// Decodes the code point at s[i]. Returns its length in bytes, or 0 for an invalid sequence
// (truncated, overlong, a surrogate or above U+10FFFF): Windows names are UTF-16, so a byte
// sequence that has no UTF-16 form cannot name a file and must not be compared as if it did.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len = 0;
  char32_t value = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    value = b0 & 0x1Fu;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    value = b0 & 0x0Fu;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    value = b0 & 0x07u;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    value = (value << 6) | (b & 0x3Fu);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *cp = value;
  return len;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ---------------------------------------------------------------------------------------------
// Windows upper-case folding

// A run of upper/lower-case pairs: first is upper, first+1 its lower case, and so on to last.
struct PairRange {
  char32_t first;
  char32_t last;
};

// Ranges of the NTFS default upcase table (Windows Vista and later, as reproduced by ntfs-3g and
// the Linux NTFS driver) inside the blocks we cover: in each range [first, last] the code point
// first+1 upper-cases to first, first+3 to first+2, and so on.
constexpr std::array<PairRange, 17> kPairRanges = {{
    {0x0100, 0x012F},  // Latin Extended-A: Ā ā … Į į
    {0x0132, 0x0137},  // Ĳ ĳ … Ķ ķ  (U+0130 İ, U+0131 ı and U+0138 ĸ are not folded)
    {0x0139, 0x0148},  // Ĺ ĺ … Ň ň  (U+0149 ŉ is not folded)
    {0x014A, 0x0177},  // Ŋ ŋ … Ŷ ŷ
    {0x0179, 0x017E},  // Ź ź … Ž ž  (U+017F ſ is not folded)
    {0x03D8, 0x03EF},  // Greek archaic letters and Coptic in the Greek block
    {0x03F7, 0x03F8},  // Ϸ ϸ
    {0x03FA, 0x03FB},  // Ϻ ϻ
    {0x0460, 0x0481},  // Cyrillic historic letters
    {0x048A, 0x04BF},  // Cyrillic extended letters
    {0x04C1, 0x04C4},
    {0x04C5, 0x04C8},
    {0x04C9, 0x04CE},
    {0x04D0, 0x04EB},
    {0x04EC, 0x04ED},
    {0x04EE, 0x04F5},
    {0x04F6, 0x0513},  // runs into the Cyrillic Supplement as Windows' table does
}};

// Returns the upper-case form of `cp` as NTFS compares names, for ASCII, Latin-1, Latin
// Extended-A, Greek and Cyrillic. Deliberately absent, as in Windows: µ→Μ, ı→I, ſ→S, ß→SS and the
// Greek symbol variants (ϐ, ϑ, ϕ …): mapping them would call two distinct NTFS names equal.
char32_t WindowsUpper(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (cp < 0x100) {
    if ((cp >= 0xE0 && cp <= 0xF6) || (cp >= 0xF8 && cp <= 0xFE)) return cp - 32;
    if (cp == 0xFF) return 0x178;  // ÿ → Ÿ
    return cp;
  }
  if (cp >= 0x037B && cp <= 0x037D) return cp + 130;  // ͻ ͼ ͽ → Ͻ Ͼ Ͽ
  if (cp == 0x03AC) return 0x0386;                    // ά → Ά
  if (cp >= 0x03AD && cp <= 0x03AF) return cp - 37;   // έ ή ί → Έ Ή Ί
  if (cp >= 0x03B1 && cp <= 0x03C1) return cp - 32;   // α … ρ
  if (cp == 0x03C2) return 0x03A3;                    // final ς → Σ
  if (cp >= 0x03C3 && cp <= 0x03CB) return cp - 32;   // σ … ϋ
  if (cp == 0x03CC) return 0x038C;                    // ό → Ό
  if (cp >= 0x03CD && cp <= 0x03CE) return cp - 63;   // ύ ώ → Ύ Ώ
  if (cp == 0x03F2) return 0x03F9;                    // ϲ → Ϲ
  if (cp >= 0x0430 && cp <= 0x044F) return cp - 32;   // а … я
  if (cp >= 0x0450 && cp <= 0x045F) return cp - 80;   // ѐ … џ
  if (cp == 0x04CF) return 0x04C0;                    // ӏ → Ӏ
  for (const auto& range : kPairRanges) {
    if (cp > range.first && cp <= range.last && ((cp - range.first) % 2) == 1) return cp - 1;
  }
  return cp;
}

// Upper-cases every decodable code point; bytes that do not decode are kept as they are, so two
// strings compare equal only if their invalid bytes are identical.
std::string FoldWindows(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0) {
      out.push_back(s[i]);
      ++i;
      continue;
    }
    AppendUtf8(WindowsUpper(cp), &out);
    i += len;
  }
  return out;
}

bool IsAsciiAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

char AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

bool IEqualsAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiUpper(a[i]) != AsciiUpper(b[i])) return false;
  }
  return true;
}

bool IsWinSep(char c) { return c == '\\' || c == '/'; }

// ---------------------------------------------------------------------------------------------
// Errors

// Renders a path for an error message: control bytes and bytes that are not valid UTF-8 become
// \xNN so that the message stays one printable line.
std::string Printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0 || cp < 0x20 || cp == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(s[i]));
      out += hex;
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

// Built with += rather than "'" + std::string: GCC 12 reports a false -Wrestrict on that form.
std::string Quote(std::string_view s) {
  std::string out = "'";
  out += Printable(s);
  out += '\'';
  return out;
}

Error Invalid(std::string_view path, std::string_view why) {
  std::string context = "path ";
  context += Quote(path);
  context += ": ";
  context += why;
  return Error(ErrorCode::kPathInvalid, std::move(context));
}

// ---------------------------------------------------------------------------------------------
// POSIX

Expected<std::string> NormalizePosix(std::string_view path) {
  if (path.empty()) return Invalid(path, "empty path");
  if (const size_t nul = path.find('\0'); nul != std::string_view::npos) {
    return Invalid(path, "contains a NUL character at byte " + std::to_string(nul));
  }
  if (path.front() != '/') return Invalid(path, "not absolute (a POSIX path must start with '/')");
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      // Lexical: "/a/link/.." is "/a" here whatever "link" points to (see the header).
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return std::string("/");
  std::string out;
  for (const auto part : parts) {
    out += '/';
    out.append(part);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Windows

// True for DOS device names that Win32 maps to devices in any directory ("C:\x\NUL" opens the
// null device). The check is on the name before its first dot, as Windows 10 does for
// "nul.txt"; Windows 11 relaxed that, so refusing is the conservative choice on both.
bool IsReservedDeviceName(std::string_view name) {
  std::string_view base = name.substr(0, name.find('.'));
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  for (const std::string_view reserved : {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}) {
    if (IEqualsAscii(base, reserved)) return true;
  }
  if (base.size() >= 4 &&
      (IEqualsAscii(base.substr(0, 3), "COM") || IEqualsAscii(base.substr(0, 3), "LPT"))) {
    const std::string_view digit = base.substr(3);
    if (digit.size() == 1 && digit[0] >= '0' && digit[0] <= '9') return true;
    // Superscript digits ¹ ² ³ are device names too.
    if (digit == "\xC2\xB9" || digit == "\xC2\xB2" || digit == "\xC2\xB3") return true;
  }
  return false;
}

// Validates one name (a component, server or share) and strips what Windows strips. `verbatim`
// is true for "\\?\" paths, where Windows strips nothing. Returns the name to keep.
Expected<std::string> CleanWindowsName(std::string_view path, std::string_view name,
                                       bool verbatim) {
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", u);
      return Invalid(path, "component " + Quote(name) + " contains the control character " + hex);
    }
    if (c == ':') {
      return Invalid(path, "component " + Quote(name) +
                               " contains ':' (an alternate data stream or a misplaced drive)");
    }
    if (c == '<' || c == '>' || c == '"' || c == '|' || c == '?' || c == '*') {
      return Invalid(path, "component " + Quote(name) + " contains the character '" +
                               std::string(1, c) + "', which Windows does not allow in names");
    }
  }
  std::string_view stripped = name;
  while (!stripped.empty() && (stripped.back() == '.' || stripped.back() == ' ')) {
    stripped.remove_suffix(1);
  }
  if (stripped.empty()) {
    return Invalid(path, "component " + Quote(name) +
                             " consists only of dots or spaces, which Windows resolves "
                             "inconsistently");
  }
  if (verbatim && stripped.size() != name.size()) {
    return Invalid(path, "component " + Quote(name) +
                             " ends with a dot or space; a \\\\?\\ path keeps it literally, so it "
                             "names a different file than the same path without \\\\?\\");
  }
  if (IsReservedDeviceName(stripped)) {
    return Invalid(path, "component " + Quote(name) + " is a reserved device name");
  }
  return std::string(stripped);
}

// Finds the next name in `s` starting at `*pos`: skips nothing, stops at a separator.
std::string_view NextName(std::string_view s, size_t* pos) {
  size_t end = *pos;
  while (end < s.size() && s[end] != '\\') ++end;
  const std::string_view name = s.substr(*pos, end - *pos);
  *pos = end;
  return name;
}

Expected<std::string> NormalizeWindows(std::string_view path) {
  if (path.empty()) return Invalid(path, "empty path");
  if (const size_t nul = path.find('\0'); nul != std::string_view::npos) {
    return Invalid(path, "contains a NUL character at byte " + std::to_string(nul));
  }
  for (size_t i = 0; i < path.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(path, i, &cp);
    if (len == 0) {
      return Invalid(path, "is not valid UTF-8 (at byte " + std::to_string(i) + ")");
    }
    i += len;
  }

  std::string p(path);
  for (char& c : p) {
    if (c == '/') c = '\\';
  }
  const std::string_view s = p;

  bool verbatim = false;
  std::string root;       // "C:\" or "\\server\share"
  size_t rest_start = 0;  // where the components begin in `s`

  auto parse_unc = [&](size_t start) -> Status {
    size_t pos = start;
    const std::string_view server = NextName(s, &pos);
    if (server.empty()) return Invalid(path, "UNC path without a server name");
    if (pos >= s.size()) return Invalid(path, "UNC path without a share name");
    ++pos;  // the separator after the server
    const std::string_view share = NextName(s, &pos);
    if (share.empty()) return Invalid(path, "UNC path without a share name");
    for (const std::string_view name : {server, share}) {
      if (name == "." || name == "..") {
        return Invalid(path, "UNC server or share name " + Quote(name) + " is not a name");
      }
    }
    auto clean_server = CleanWindowsName(path, server, verbatim);
    if (!clean_server.ok()) return clean_server.error();
    auto clean_share = CleanWindowsName(path, share, verbatim);
    if (!clean_share.ok()) return clean_share.error();
    root = "\\\\" + *clean_server + "\\" + *clean_share;
    rest_start = pos;
    return OkStatus();
  };

  auto parse_drive = [&](size_t start) -> Status {
    if (!IsAsciiAlpha(s[start])) {
      return Invalid(path, "invalid drive letter " + Quote(s.substr(start, 1)));
    }
    root = std::string(1, AsciiUpper(s[start])) + ":\\";
    rest_start = start + 2;
    return OkStatus();
  };

  if (s.size() >= 4 && s.substr(0, 4) == "\\\\?\\") {
    // Win32 file namespace: reduced to the ordinary form, but nothing is stripped (see
    // CleanWindowsName) because Windows passes the names through literally.
    verbatim = true;
    const std::string_view after = s.substr(4);
    if (after.size() >= 4 && IEqualsAscii(after.substr(0, 4), "UNC\\")) {
      STOCKADE_RETURN_IF_ERROR(parse_unc(8));
    } else if (after.size() >= 2 && after[1] == ':' && IsAsciiAlpha(after[0])) {
      if (after.size() == 2) {
        return Invalid(path, "\\\\?\\X: without a backslash names the volume device, not its root");
      }
      if (after[2] != '\\') return Invalid(path, "drive-relative path after \\\\?\\");
      STOCKADE_RETURN_IF_ERROR(parse_drive(4));
    } else {
      return Invalid(path,
                     "\\\\?\\ path that is neither a drive nor UNC\\ (device and volume GUID paths "
                     "are not supported)");
    }
  } else if (s.size() >= 3 && s.substr(0, 3) == "\\\\." && (s.size() == 3 || s[3] == '\\')) {
    return Invalid(path, "device namespace path (\\\\.\\) is not a file path");
  } else if (s.size() >= 4 && s.substr(0, 4) == "\\??\\") {
    return Invalid(path, "NT object manager path (\\??\\) is not a Win32 file path");
  } else if (s.size() >= 2 && s[0] == '\\' && s[1] == '\\') {
    STOCKADE_RETURN_IF_ERROR(parse_unc(2));
  } else if (s[0] == '\\') {
    return Invalid(path,
                   "rooted path without a drive letter (relative to the current drive; write "
                   "'C:\\...' or '\\\\server\\share\\...')");
  } else if (s.size() >= 2 && s[1] == ':') {
    if (!IsAsciiAlpha(s[0])) return Invalid(path, "invalid drive letter " + Quote(s.substr(0, 1)));
    if (s.size() == 2 || s[2] != '\\') {
      return Invalid(path, "drive-relative path (relative to the current directory of drive " +
                               std::string(1, AsciiUpper(s[0])) + ":)");
    }
    STOCKADE_RETURN_IF_ERROR(parse_drive(0));
  } else {
    return Invalid(path,
                   "relative path (must start with a drive like 'C:\\' or a share like "
                   "'\\\\server\\share')");
  }

  std::vector<std::string> parts;
  size_t pos = rest_start;
  while (pos < s.size()) {
    if (s[pos] == '\\') {
      ++pos;
      continue;
    }
    const std::string_view name = NextName(s, &pos);
    if (name == ".") continue;
    if (name == "..") {
      // Never above the drive or share root: "\\server\share\..\other" stays on "share".
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    auto clean = CleanWindowsName(path, name, verbatim);
    if (!clean.ok()) return clean.error();
    parts.push_back(std::move(*clean));
  }

  std::string out = root;
  const bool drive_root = root.back() == '\\';
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0 || !drive_root) out += '\\';
    out += parts[i];
  }
  return out;
}

// Compares roots and components of two normalised paths.
bool ComponentEqual(std::string_view a, std::string_view b, PathStyle style) {
  if (style == PathStyle::kPosix) return a == b;
  return FoldWindows(a) == FoldWindows(b);
}

}  // namespace

PathStyle NativeStyle() {
#ifdef _WIN32
  return PathStyle::kWindows;
#else
  return PathStyle::kPosix;
#endif
}

Expected<std::string> Normalize(std::string_view path, PathStyle style) {
  return style == PathStyle::kPosix ? NormalizePosix(path) : NormalizeWindows(path);
}

bool IsAbsolute(std::string_view path, PathStyle style) {
  if (style == PathStyle::kPosix) return !path.empty() && path.front() == '/';
  if (path.size() >= 3 && IsAsciiAlpha(path[0]) && path[1] == ':' && IsWinSep(path[2])) {
    return true;
  }
  return path.size() >= 3 && IsWinSep(path[0]) && IsWinSep(path[1]) && !IsWinSep(path[2]);
}

SplitPath Split(std::string_view normalized, PathStyle style) {
  SplitPath out;
  const std::string_view s = normalized;
  size_t pos = 0;
  auto is_sep = [style](char c) { return style == PathStyle::kPosix ? c == '/' : IsWinSep(c); };
  if (style == PathStyle::kPosix) {
    if (!s.empty() && s[0] == '/') out.root = "/";
  } else if (s.size() >= 2 && IsWinSep(s[0]) && IsWinSep(s[1])) {
    // "\\server\share\": the share is part of the root, it cannot be climbed out of.
    pos = 2;
    for (int names = 0; names < 2; ++names) {
      while (pos < s.size() && !IsWinSep(s[pos])) ++pos;
      if (pos < s.size()) ++pos;
    }
    out.root = std::string(s.substr(0, pos));
    for (char& c : out.root) {
      if (c == '/') c = '\\';
    }
    if (out.root.back() != '\\') out.root += '\\';
  } else if (s.size() >= 2 && s[1] == ':') {
    out.root = std::string(s.substr(0, 2)) + "\\";
    pos = 2;
  }
  while (pos < s.size()) {
    if (is_sep(s[pos])) {
      ++pos;
      continue;
    }
    const size_t start = pos;
    while (pos < s.size() && !is_sep(s[pos])) ++pos;
    out.components.emplace_back(s.substr(start, pos - start));
  }
  return out;
}

bool Equal(std::string_view a, std::string_view b, PathStyle style) {
  const auto na = Normalize(a, style);
  const auto nb = Normalize(b, style);
  const std::string_view x = na.ok() ? std::string_view(*na) : a;
  const std::string_view y = nb.ok() ? std::string_view(*nb) : b;
  return ComponentEqual(x, y, style);
}

bool IsWithin(std::string_view path, std::string_view root, PathStyle style) {
  const auto np = Normalize(path, style);
  const auto nr = Normalize(root, style);
  if (!np.ok() || !nr.ok()) return false;
  const SplitPath sp = Split(*np, style);
  const SplitPath sr = Split(*nr, style);
  if (!ComponentEqual(sp.root, sr.root, style)) return false;
  if (sp.components.size() < sr.components.size()) return false;
  for (size_t i = 0; i < sr.components.size(); ++i) {
    if (!ComponentEqual(sp.components[i], sr.components[i], style)) return false;
  }
  return true;
}

Expected<std::string> JoinWithin(std::string_view base, std::string_view relative,
                                 PathStyle style) {
  auto nbase = Normalize(base, style);
  if (!nbase.ok()) return nbase.error().Wrap("joining " + Quote(relative) + " to its base");
  if (relative.empty()) return nbase;
  const auto refuse = [&](std::string_view why) {
    return Error(ErrorCode::kPathInvalid,
                 "joining " + Quote(relative) + " to " + Quote(*nbase) + ": " + std::string(why));
  };
  if (relative.find('\0') != std::string_view::npos) return refuse("contains a NUL character");
  const bool windows = style == PathStyle::kWindows;
  auto is_sep = [windows](char c) { return windows ? IsWinSep(c) : c == '/'; };
  if (IsAbsolute(relative, style) || is_sep(relative.front())) {
    return refuse("the path to join is absolute or rooted, not relative");
  }
  if (windows && relative.size() >= 2 && relative[1] == ':') {
    return refuse("the path to join names a drive (or a stream), it is not relative");
  }
  // Every prefix must stay inside the base: "../base/x" is refused even though it ends inside,
  // because the caller asked for something relative to the base, and a base reached from
  // outside may not be the same directory once symlinks or junctions are involved.
  size_t depth = 0;
  size_t pos = 0;
  while (pos < relative.size()) {
    if (is_sep(relative[pos])) {
      ++pos;
      continue;
    }
    const size_t start = pos;
    while (pos < relative.size() && !is_sep(relative[pos])) ++pos;
    const std::string_view name = relative.substr(start, pos - start);
    if (name == ".") continue;
    if (name == "..") {
      if (depth == 0) return refuse("climbs above the base with '..'");
      --depth;
      continue;
    }
    ++depth;
  }
  const std::string joined = *nbase + (windows ? "\\" : "/") + std::string(relative);
  auto result = Normalize(joined, style);
  if (!result.ok()) {
    return result.error().Wrap("joining " + Quote(relative) + " to " + Quote(*nbase));
  }
  if (!IsWithin(*result, *nbase, style)) return refuse("the result is not inside the base");
  return result;
}

}  // namespace stockade::paths
