#include "runner/launch_spec.h"

#include <string_view>

namespace stockade::runner {

namespace {

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

Error Invalid(const std::string& what, const std::string& value) {
  return Error(ErrorCode::kInvalidArgument, "launch spec: " + what + ": '" + value + "'");
}

// Windows paths (ValidateWindowsLaunchSpec): pure string checks, so they live with the portable
// spec rather than in runner/win.
bool IsDriveLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

bool CleanComponent(std::string_view part) {
  if (part.empty() || part == "." || part == "..") return false;
  for (const char c : part) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
    if (std::string_view("<>:\"|?*/").find(c) != std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

bool IsCleanAbsolutePath(const std::string& path) {
  if (path.empty() || path[0] != '/' || HasNul(path)) return false;
  if (path == "/") return true;
  if (path.back() == '/') return false;
  std::string_view rest(path);
  rest.remove_prefix(1);
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
    if (rest.empty()) return false;
  }
  return true;
}

Status ValidateLaunchSpec(const LaunchSpec& spec) {
#if defined(_WIN32)
  // A Windows spec holds drive paths and an account name; POSIX-shaped specs keep the checks
  // below (the portable tests use them on every OS).
  if (spec.cwd.size() >= 2 && spec.cwd[1] == ':') return ValidateWindowsLaunchSpec(spec);
#endif
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Error(ErrorCode::kInvalidArgument, "launch spec: argv is empty");
  }
  for (const auto& arg : spec.argv) {
    if (HasNul(arg)) return Invalid("argv entry contains a NUL byte", arg);
  }
  for (const auto& entry : spec.env) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || HasNul(entry)) {
      return Invalid("environment entry is not NAME=VALUE", entry);
    }
  }
  if (!IsCleanAbsolutePath(spec.cwd)) return Invalid("cwd is not a clean absolute path", spec.cwd);
  if (!spec.identity.same_user && (spec.identity.uid == 0 || spec.identity.gid == 0)) {
    return Invalid("identity uid/gid 0 (root) is not a sandbox identity", spec.identity.name);
  }
  for (const auto& root : spec.writable_roots) {
    if (!IsCleanAbsolutePath(root)) return Invalid("writable root is not clean and absolute", root);
  }
  for (const auto& p : spec.protected_paths) {
    if (p.empty() || HasNul(p)) return Invalid("protected path is empty", p);
    if (p[0] == '/') {
      if (!IsCleanAbsolutePath(p)) return Invalid("protected path is not clean", p);
    } else if (p.find('/') != std::string::npos || p == "." || p == "..") {
      return Invalid("relative protected path must be one plain name", p);
    }
  }
  for (const auto& p : spec.deny_read) {
    if (!IsCleanAbsolutePath(p) || p == "/") {
      return Invalid("deny-read path is not a clean absolute path below /", p);
    }
  }
  for (const auto port : spec.loopback_ports) {
    if (port == 0) return Invalid("loopback port", "0");
  }
  if (spec.timeout.count() < 0)
    return Invalid("timeout is negative", std::to_string(spec.timeout.count()));
  return OkStatus();
}

bool IsCleanWindowsPath(const std::string& path) {
  if (path.size() < 3 || !IsDriveLetter(path[0]) || path[1] != ':' || path[2] != '\\') {
    return false;
  }
  if (HasNul(path)) return false;
  if (path.size() == 3) return true;  // "C:\"
  std::string_view rest(path);
  rest.remove_prefix(3);
  while (true) {
    const std::size_t slash = rest.find('\\');
    if (!CleanComponent(rest.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
    if (rest.empty()) return false;  // trailing backslash
  }
}

Status ValidateWindowsLaunchSpec(const LaunchSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Error(ErrorCode::kInvalidArgument, "launch spec: argv is empty");
  }
  for (const auto& arg : spec.argv) {
    if (HasNul(arg)) return Invalid("argv entry contains a NUL byte", arg);
  }
  for (const auto& entry : spec.env) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || HasNul(entry)) {
      return Invalid("environment entry is not NAME=VALUE", entry);
    }
  }
  if (!IsCleanWindowsPath(spec.cwd)) return Invalid("cwd is not a clean absolute path", spec.cwd);
  if (!spec.identity.same_user && spec.identity.name.empty()) {
    return Invalid("identity has no account name", spec.identity.name);
  }
  for (const auto& root : spec.writable_roots) {
    if (!IsCleanWindowsPath(root)) return Invalid("writable root is not clean and absolute", root);
  }
  for (const auto& p : spec.protected_paths) {
    if (p.empty() || HasNul(p)) return Invalid("protected path is empty", p);
    if (p.size() >= 2 && p[1] == ':') {
      if (!IsCleanWindowsPath(p)) return Invalid("protected path is not clean", p);
    } else if (!CleanComponent(p) || p.find('\\') != std::string::npos) {
      return Invalid("relative protected path must be one plain name", p);
    }
  }
  for (const auto& p : spec.deny_read) {
    if (!IsCleanWindowsPath(p) || p.size() == 3) {
      return Invalid("deny-read path is not a clean absolute path below a drive root", p);
    }
  }
  for (const auto port : spec.loopback_ports) {
    if (port == 0) return Invalid("loopback port", "0");
  }
  if (spec.timeout.count() < 0) {
    return Invalid("timeout is negative", std::to_string(spec.timeout.count()));
  }
  return OkStatus();
}

}  // namespace stockade::runner
