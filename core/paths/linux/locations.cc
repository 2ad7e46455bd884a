#include "core/paths/locations.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <vector>

#include "core/paths/path_rules.h"

namespace stockade::paths {

namespace {

constexpr char kDefaultPolicyPath[] = "/etc/stockade/policy.toml";
constexpr char kDefaultStateDir[] = "/var/lib/stockade";
constexpr char kDefaultTempDir[] = "/tmp";

// The variable's value, or nothing when it is unset or empty.
std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

Expected<std::string> HomeFromPasswd() {
  const uid_t uid = geteuid();
  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  size_t size = hint > 0 ? static_cast<size_t>(hint) : 4096;
  // getpwuid_r reports ERANGE when the entry does not fit; grow and retry, with a ceiling so a
  // broken NSS module cannot make us allocate without bound.
  for (;;) {
    std::vector<char> buffer(size);
    passwd entry{};
    passwd* found = nullptr;
    const int rc = getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && size < (1u << 20)) {
      size *= 2;
      continue;
    }
    if (rc != 0) {
      return ErrnoError(ErrorCode::kOs, "looking up the passwd entry of uid " + std::to_string(uid),
                        rc);
    }
    if (found == nullptr) {
      return Error(ErrorCode::kNotFound,
                   "no passwd entry for uid " + std::to_string(uid) + " and HOME is not set");
    }
    if (entry.pw_dir == nullptr || *entry.pw_dir == '\0') {
      return Error(ErrorCode::kNotFound,
                   "the passwd entry of uid " + std::to_string(uid) + " has no home directory");
    }
    auto home = Normalize(entry.pw_dir, PathStyle::kPosix);
    if (!home.ok()) {
      return home.error().Wrap("home directory of uid " + std::to_string(uid) + " in passwd");
    }
    return home;
  }
}

}  // namespace

std::string DefaultPolicyPath() { return Env(kPolicyPathEnv).value_or(kDefaultPolicyPath); }

std::string DefaultStateDir() { return Env(kStateDirEnv).value_or(kDefaultStateDir); }

Expected<std::string> CurrentUserHome() {
  if (const auto home = Env("HOME")) {
    auto normalized = Normalize(*home, PathStyle::kPosix);
    if (!normalized.ok()) return normalized.error().Wrap("HOME environment variable");
    return normalized;
  }
  return HomeFromPasswd();
}

Expected<std::string> TempDir() {
  if (const auto tmpdir = Env("TMPDIR")) {
    auto normalized = Normalize(*tmpdir, PathStyle::kPosix);
    if (normalized.ok()) return normalized;
  }
  return std::string(kDefaultTempDir);
}

}  // namespace stockade::paths
