#include "core/policy/policy_path_checks.h"

#include <optional>
#include <vector>

#include "core/paths/expand.h"

namespace stockade::policy_internal {

namespace {

using paths::PathStyle;

constexpr std::string_view kPlaceholderList = "{workspace}, {temp}, ~, %NAME% or ${NAME}";

// One path of the policy, with where it was written.
struct Entry {
  std::string_view field;  // "writable_roots", "protected" or "deny_read"
  std::size_t index = 0;
  const std::string* pattern = nullptr;
  std::optional<TextPosition> at;
};

std::string Label(const Entry& entry) {
  return "filesystem." + std::string(entry.field) + "[" + std::to_string(entry.index) + "]";
}

std::string WhereText(const Entry& entry) {
  return entry.at ? "at " + PositionText(*entry.at) : "from the default policy";
}

Error Fail(std::string_view source, const Entry& entry, std::string_view message) {
  return PolicyError(ErrorCode::kPolicyInvalid, source, entry.at,
                     Label(entry) + ": " + std::string(message));
}

std::vector<Entry> Entries(std::string_view field, const std::vector<std::string>& patterns,
                           const std::vector<std::optional<TextPosition>>& positions) {
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    entries.push_back(
        Entry{field, i, &patterns[i], i < positions.size() ? positions[i] : std::nullopt});
  }
  return entries;
}

// The components of `pattern`, split on both separators (a policy file may be shared by both
// OSes, and a Windows path may climb with "..\").
std::vector<std::string_view> Components(std::string_view pattern) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= pattern.size(); ++i) {
    if (i == pattern.size() || pattern[i] == '/' || pattern[i] == '\\') {
      parts.push_back(pattern.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

bool ClimbsUp(std::string_view pattern) {
  for (std::string_view part : Components(pattern)) {
    if (part == "..") return true;
  }
  return false;
}

// For a pattern that starts with "{" but is not anchored: the unknown placeholder, with a
// suggestion.
std::string UnknownPlaceholderMessage(std::string_view pattern) {
  std::size_t close = pattern.find('}');
  std::string_view placeholder =
      close == std::string_view::npos ? pattern : pattern.substr(0, close + 1);
  std::string message =
      Quote(pattern) + " starts with the unknown placeholder " + Quote(placeholder);
  std::optional<std::string> suggestion = ClosestMatch(placeholder, {"{workspace}", "{temp}"});
  if (suggestion) message += "; did you mean " + Quote(*suggestion) + "?";
  message += " (known placeholders: " + std::string(kPlaceholderList) + ")";
  return message;
}

// The checks every anchored path shares: not empty, no "..", a known placeholder or absolute,
// normalisable. `relative_hint` completes the message for a relative path.
Expected<ComparablePath> CheckAnchored(std::string_view source, const Entry& entry,
                                       std::string_view relative_hint) {
  const std::string& pattern = *entry.pattern;
  if (pattern.empty()) {
    return Fail(source, entry,
                "empty path; expected an absolute path or one starting with " +
                    std::string(kPlaceholderList));
  }
  if (ClimbsUp(pattern)) {
    return Fail(source, entry,
                Quote(pattern) +
                    " climbs with \"..\"; policy paths must not contain \"..\" "
                    "(it is resolved before links are, and can leave the folder "
                    "it seems to name)");
  }
  if (!paths::IsAnchoredPattern(pattern)) {
    if (pattern.front() == '{' && !pattern.starts_with("{{")) {
      return Fail(source, entry, UnknownPlaceholderMessage(pattern));
    }
    // "~root/x", "%bad name%", "${1}": a placeholder that is not one; the expander says why.
    if (pattern.front() == '~' || pattern.front() == '%' || pattern.front() == '$') {
      Expected<ComparablePath> attempt = ToComparable(pattern);
      if (!attempt.ok()) {
        return Fail(source, entry,
                    Quote(pattern) + " is not a valid path: " + attempt.error().context());
      }
    }
    return Fail(source, entry, Quote(pattern) + " is relative; " + std::string(relative_hint));
  }
  Expected<ComparablePath> comparable = ToComparable(pattern);
  if (!comparable.ok()) {
    return Fail(source, entry,
                Quote(pattern) + " is not a valid path: " + comparable.error().context());
  }
  return comparable;
}

// '"{workspace}" at 4:19' or '"{workspace}" (from the default policy)'.
std::string Describe(const Entry& entry) {
  return Quote(*entry.pattern) + (entry.at ? " " : " (") + WhereText(entry) + (entry.at ? "" : ")");
}

Status CheckWritableRoots(std::string_view source, const std::vector<Entry>& roots,
                          std::vector<ComparablePath>* forms) {
  for (const Entry& root : roots) {
    Expected<ComparablePath> form = CheckAnchored(
        source, root,
        "writable roots must be absolute or start with " + std::string(kPlaceholderList));
    if (!form.ok()) return form.error();
    // Compared with every earlier root, so the error lands on the later line.
    for (std::size_t i = 0; i < forms->size(); ++i) {
      const ComparablePath& earlier = (*forms)[i];
      if (earlier.style != form->style) continue;
      if (paths::Equal(form->path, earlier.path, form->style)) {
        return Fail(
            source, root,
            Quote(*root.pattern) + " is listed twice (first as " + Describe(roots[i]) + ")");
      }
      if (paths::IsWithin(form->path, earlier.path, form->style)) {
        return Fail(source, root,
                    Quote(*root.pattern) + " lies inside the writable root " + Describe(roots[i]) +
                        "; overlapping roots make grants ambiguous, keep the outer "
                        "one only");
      }
      if (paths::IsWithin(earlier.path, form->path, form->style)) {
        return Fail(source, root,
                    Quote(*root.pattern) + " contains the writable root " + Describe(roots[i]) +
                        "; overlapping roots make grants ambiguous, keep the outer "
                        "one only");
      }
    }
    forms->push_back(*std::move(form));
  }
  return OkStatus();
}

Status CheckProtected(std::string_view source, const std::vector<Entry>& protected_paths,
                      const std::vector<Entry>& roots,
                      const std::vector<ComparablePath>& root_forms) {
  // Duplicates: relative names by their components, anchored paths by their comparable form.
  std::vector<std::pair<std::string, std::size_t>> relative_seen;
  std::vector<std::pair<ComparablePath, std::size_t>> anchored_seen;
  for (const Entry& entry : protected_paths) {
    const std::string& pattern = *entry.pattern;
    if (pattern.empty()) {
      return Fail(source, entry,
                  "empty path; expected a name relative to each writable root (\".git\") or an "
                  "absolute path inside one");
    }
    if (paths::IsAnchoredPattern(pattern) ||
        (pattern.front() == '{' && !pattern.starts_with("{{"))) {
      Expected<ComparablePath> form = CheckAnchored(source, entry, "");
      if (!form.ok()) return form.error();
      std::optional<std::size_t> inside;
      for (std::size_t i = 0; i < root_forms.size(); ++i) {
        const ComparablePath& root = root_forms[i];
        if (root.style != form->style) continue;
        if (paths::Equal(form->path, root.path, form->style)) {
          return Fail(source, entry,
                      Quote(pattern) + " is the writable root " + Describe(roots[i]) +
                          " itself; remove the root instead of protecting all of it");
        }
        if (paths::IsWithin(form->path, root.path, form->style)) inside = i;
      }
      if (!inside.has_value()) {
        std::string listed;
        for (const Entry& root : roots) {
          if (!listed.empty()) listed += ", ";
          listed += Quote(*root.pattern);
        }
        return Fail(source, entry,
                    Quote(pattern) +
                        " is outside every writable root; an absolute protected "
                        "path must lie inside one of: " +
                        (listed.empty() ? std::string("(no writable roots)") : listed) +
                        " (a relative name such as \".git\" applies under every root)");
      }
      for (const auto& [seen, index] : anchored_seen) {
        if (seen.style == form->style && paths::Equal(seen.path, form->path, form->style)) {
          return Fail(source, entry,
                      Quote(pattern) + " is listed twice (first as " +
                          Describe(protected_paths[index]) + ")");
        }
      }
      anchored_seen.emplace_back(*std::move(form), entry.index);
      continue;
    }
    // A relative name, applied under every writable root.
    if (ClimbsUp(pattern)) {
      return Fail(source, entry,
                  Quote(pattern) +
                      " climbs with \"..\"; a protected name must stay inside the "
                      "writable root it applies to");
    }
    if (pattern.front() == '\\') {
      return Fail(source, entry,
                  Quote(pattern) +
                      " starts with \"\\\" but has no drive; write a name relative "
                      "to each root (\".git\") or a full path (\"C:\\\\work\\\\.git\")");
    }
    if (pattern.size() >= 2 && pattern[1] == ':' &&
        ((pattern[0] >= 'A' && pattern[0] <= 'Z') || (pattern[0] >= 'a' && pattern[0] <= 'z'))) {
      return Fail(source, entry,
                  Quote(pattern) +
                      " is drive-relative; write a name relative to each root "
                      "(\".git\") or a full path (\"C:\\\\work\\\\.git\")");
    }
    std::string key;
    for (std::string_view part : Components(pattern)) {
      if (part.empty() || part == ".") continue;
      // Appended piecewise: `"/" + std::string(part)` trips GCC 12's false -Wrestrict at -O3.
      if (!key.empty()) key += '/';
      key += part;
    }
    if (key.empty()) {
      return Fail(source, entry,
                  Quote(pattern) +
                      " names the writable root itself; protect a name inside it "
                      "(\".git\") or remove the root");
    }
    for (const auto& [seen, index] : relative_seen) {
      if (seen == key) {
        return Fail(source, entry,
                    Quote(pattern) + " is listed twice (first as " +
                        Describe(protected_paths[index]) + ")");
      }
    }
    relative_seen.emplace_back(std::move(key), entry.index);
  }
  return OkStatus();
}

Status CheckDenyRead(std::string_view source, const std::vector<Entry>& deny_read) {
  std::vector<std::pair<ComparablePath, std::size_t>> seen;
  for (const Entry& entry : deny_read) {
    Expected<ComparablePath> form =
        CheckAnchored(source, entry,
                      "deny_read paths must be absolute or start with " +
                          std::string(kPlaceholderList) + " (e.g. \"~/.ssh\")");
    if (!form.ok()) return form.error();
    for (const auto& [earlier, index] : seen) {
      if (earlier.style == form->style && paths::Equal(earlier.path, form->path, form->style)) {
        return Fail(source, entry,
                    Quote(*entry.pattern) + " is listed twice (first as " +
                        Describe(deny_read[index]) + ")");
      }
    }
    seen.emplace_back(*std::move(form), entry.index);
  }
  return OkStatus();
}

}  // namespace

Expected<ComparablePath> ToComparable(std::string_view pattern) {
  if (paths::IsAbsolute(pattern, PathStyle::kPosix)) {
    Expected<std::string> normalized = paths::Normalize(pattern, PathStyle::kPosix);
    if (!normalized.ok()) return normalized.error();
    return ComparablePath{PathStyle::kPosix, *std::move(normalized)};
  }
  if (paths::IsAbsolute(pattern, PathStyle::kWindows)) {
    Expected<std::string> normalized = paths::Normalize(pattern, PathStyle::kWindows);
    if (!normalized.ok()) return normalized.error();
    return ComparablePath{PathStyle::kWindows, *std::move(normalized)};
  }
  // A placeholder pattern: opaque synthetic roots, POSIX rules, "\" read as "/" so that
  // "%USERPROFILE%\a" and "%USERPROFILE%/a/b" compare as the same tree.
  std::string slashed(pattern);
  for (char& c : slashed) {
    if (c == '\\') c = '/';
  }
  paths::ExpansionContext context;
  context.style = PathStyle::kPosix;
  context.workspace = "/__stockade_workspace__";
  context.temp = "/__stockade_temp__";
  context.home = "/__stockade_home__";
  context.env = [](std::string_view name) -> std::optional<std::string> {
    return "/__stockade_env__/" + std::string(name);
  };
  Expected<std::string> expanded = paths::Expand(slashed, context);
  if (!expanded.ok()) return expanded.error();
  return ComparablePath{PathStyle::kPosix, *std::move(expanded)};
}

Status CheckPolicyPaths(const Policy& policy, const PathLocations& locations,
                        std::string_view source) {
  const FilesystemPolicy& fs = policy.filesystem;
  std::vector<Entry> roots = Entries("writable_roots", fs.writable_roots, locations.writable_roots);
  std::vector<Entry> protected_paths =
      Entries("protected", fs.protected_paths, locations.protected_paths);
  std::vector<Entry> deny_read = Entries("deny_read", fs.deny_read, locations.deny_read);

  std::vector<ComparablePath> root_forms;
  STOCKADE_RETURN_IF_ERROR(CheckWritableRoots(source, roots, &root_forms));
  STOCKADE_RETURN_IF_ERROR(CheckProtected(source, protected_paths, roots, root_forms));
  STOCKADE_RETURN_IF_ERROR(CheckDenyRead(source, deny_read));
  return OkStatus();
}

}  // namespace stockade::policy_internal
