#include "core/paths/expand.h"

#include <cstdio>

namespace stockade::paths {

namespace {

// Names accepted between "%...%": Windows allows almost anything, but a policy path needs a
// delimiter it can trust, so the common set is accepted (letters, digits, "_", and the "(", ")",
// "." and "-" that appear in names such as "ProgramFiles(x86)").
bool IsWindowsVarChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '(' || c == ')' || c == '.' || c == '-';
}

// "${NAME}": a POSIX shell name.
bool IsPosixVarName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (const char c : name) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsWindowsVarName(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!IsWindowsVarChar(c)) return false;
  }
  return true;
}

// Quotes user text for a message, with control bytes shown as \xNN.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool IsSep(char c) { return c == '/' || c == '\\'; }

}  // namespace

Expected<std::string> Expand(std::string_view pattern, const ExpansionContext& context) {
  const auto fail = [&](std::string_view why) {
    return Error(ErrorCode::kPathInvalid, "expanding " + Quote(pattern) + ": " + std::string(why));
  };
  const auto lookup = [&](std::string_view name,
                          std::string_view written) -> Expected<std::string> {
    std::optional<std::string> value;
    if (context.env) value = context.env(name);
    if (!value) return fail("environment variable " + Quote(written) + " is not set");
    // An empty value would silently turn "%X%\sub" into the rooted "\sub"; refuse it instead.
    if (value->empty()) return fail("environment variable " + Quote(written) + " is empty");
    return *value;
  };

  std::string out;
  size_t i = 0;
  if (!pattern.empty() && pattern[0] == '~') {
    if (pattern.size() > 1 && !IsSep(pattern[1])) {
      const size_t end = pattern.find_first_of("/\\");
      return fail(Quote(pattern.substr(0, end)) +
                  ": the ~user form is not supported, only ~ (the invoking user's home)");
    }
    if (context.home.empty()) return fail("'~' used but the home directory is not known");
    out = context.home;
    i = 1;
  }

  // Substituted values are inserted as they are and never scanned again, so a variable whose
  // value contains "{workspace}" or "%X%" cannot smuggle in another expansion.
  while (i < pattern.size()) {
    const char c = pattern[i];
    const char next = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
    if (c == '{') {
      if (next == '{') {  // "{{" is a literal "{"
        out += '{';
        i += 2;
        continue;
      }
      const size_t close = pattern.find('}', i);
      if (close == std::string_view::npos) {
        return fail("unterminated placeholder starting at " + Quote(pattern.substr(i)) +
                    " (write '{{' for a literal '{')");
      }
      const std::string_view placeholder = pattern.substr(i, close - i + 1);
      const std::string* value = nullptr;
      if (placeholder == "{workspace}") {
        value = &context.workspace;
      } else if (placeholder == "{temp}") {
        value = &context.temp;
      } else {
        return fail("unknown placeholder " + Quote(placeholder) +
                    " (known: {workspace}, {temp}; write '{{' for a literal '{')");
      }
      if (value->empty()) return fail("placeholder " + Quote(placeholder) + " has no value here");
      out += *value;
      i = close + 1;
    } else if (c == '%') {
      if (next == '%') {  // "%%" is a literal "%"
        out += '%';
        i += 2;
        continue;
      }
      const size_t close = pattern.find('%', i + 1);
      if (close == std::string_view::npos) {
        return fail("unterminated variable starting at " + Quote(pattern.substr(i)) +
                    " (write '%%' for a literal '%')");
      }
      const std::string_view name = pattern.substr(i + 1, close - i - 1);
      if (!IsWindowsVarName(name)) {
        return fail("invalid variable name " + Quote(pattern.substr(i, close - i + 1)) +
                    " (write '%%' for a literal '%')");
      }
      auto value = lookup(name, pattern.substr(i, close - i + 1));
      if (!value.ok()) return value.error();
      out += *value;
      i = close + 1;
    } else if (c == '$' && next == '$') {  // "$$" is a literal "$"
      out += '$';
      i += 2;
    } else if (c == '$' && next == '{') {
      const size_t close = pattern.find('}', i);
      if (close == std::string_view::npos) {
        return fail("unterminated variable starting at " + Quote(pattern.substr(i)));
      }
      const std::string_view name = pattern.substr(i + 2, close - i - 2);
      if (!IsPosixVarName(name)) {
        return fail("invalid variable name " + Quote(pattern.substr(i, close - i + 1)));
      }
      auto value = lookup(name, pattern.substr(i, close - i + 1));
      if (!value.ok()) return value.error();
      out += *value;
      i = close + 1;
    } else {
      out += c;
      ++i;
    }
  }

  auto normalized = Normalize(out, context.style);
  if (!normalized.ok()) {
    return normalized.error().Wrap("expanding " + Quote(pattern));
  }
  return normalized;
}

bool IsAnchoredPattern(std::string_view pattern) {
  if (pattern.starts_with("{workspace}") || pattern.starts_with("{temp}")) return true;
  // "~user" too: anchored, and refused by Expand() with its own reason.
  if (pattern.starts_with("~")) return true;
  if (pattern.starts_with("%") && !pattern.starts_with("%%")) {
    const size_t close = pattern.find('%', 1);
    return close != std::string_view::npos && IsWindowsVarName(pattern.substr(1, close - 1));
  }
  if (pattern.starts_with("${")) {
    const size_t close = pattern.find('}');
    return close != std::string_view::npos && IsPosixVarName(pattern.substr(2, close - 2));
  }
  return IsAbsolute(pattern, PathStyle::kPosix) || IsAbsolute(pattern, PathStyle::kWindows);
}

}  // namespace stockade::paths
