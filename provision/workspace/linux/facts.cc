// Linux facts about a candidate workspace: links along the path, mount points, system folders
// and every local user's home.
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <set>

#include "provision/workspace/workspace_check.h"

namespace stockade::provision {

namespace {

// Folders nothing may be granted inside or above.
constexpr const char* kSystemFolders[] = {
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root",
    "/run", "/sbin", "/sys", "/usr", "/var/lib", "/var/log", "/var/cache", "/var/spool",
    "/var/mail", "/var/backups"};
// Folders that may hold workspaces but may not be granted whole.
constexpr const char* kSharedFolders[] = {"/home", "/tmp", "/var/tmp", "/srv", "/opt", "/mnt",
                                          "/media", "/var", "/dev/shm"};

// True when `path` is the root of a mounted filesystem: its device differs from its parent's,
// or it is "/" itself.
Expected<bool> IsMountPoint(const std::string& path) {
  if (path == "/") return true;
  struct stat self {}, parent {};
  if (lstat(path.c_str(), &self) != 0) {
    return ErrnoError(ErrorCode::kOs, "lstat " + path, errno);
  }
  std::string up = path.substr(0, path.find_last_of('/'));
  if (up.empty()) up = "/";
  if (lstat(up.c_str(), &parent) != 0) {
    return ErrnoError(ErrorCode::kOs, "lstat " + up, errno);
  }
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

}  // namespace

Expected<WorkspaceFacts> GatherWorkspaceFacts(const std::string& path) {
  auto normalized = paths::Normalize(path, paths::PathStyle::kPosix);
  if (!normalized.ok()) return normalized.error();
  WorkspaceFacts facts;
  facts.requested = *normalized;

  // Walk every prefix with lstat: a link anywhere on the way redirects the grant.
  auto split = paths::Split(facts.requested, paths::PathStyle::kPosix);
  std::string prefix;
  for (const auto& component : split.components) {
    prefix += "/" + component;
    struct stat st {};
    if (lstat(prefix.c_str(), &st) != 0) {
      if (errno == ENOENT) return facts;  // exists stays false
      return ErrnoError(ErrorCode::kOs, "lstat " + prefix, errno);
    }
    if (S_ISLNK(st.st_mode)) {
      facts.link_component = prefix;
      break;
    }
  }
  char resolved[PATH_MAX];
  if (realpath(facts.requested.c_str(), resolved) == nullptr) {
    if (errno == ENOENT) return facts;
    return ErrnoError(ErrorCode::kOs, "realpath " + facts.requested, errno);
  }
  facts.exists = true;
  facts.resolved = resolved;
  struct stat st {};
  if (stat(facts.resolved.c_str(), &st) != 0) {
    return ErrnoError(ErrorCode::kOs, "stat " + facts.resolved, errno);
  }
  facts.is_directory = S_ISDIR(st.st_mode);
  auto mount = IsMountPoint(facts.resolved);
  if (!mount.ok()) return mount.error();
  facts.is_filesystem_root = *mount;

  for (const char* folder : kSystemFolders) facts.system_folders.emplace_back(folder);
  std::set<std::string> shared(std::begin(kSharedFolders), std::end(kSharedFolders));
  // Every account's home, except the placeholders system accounts use.
  setpwent();
  while (struct passwd* pw = getpwent()) {
    std::string home = pw->pw_dir ? pw->pw_dir : "";
    if (home.empty() || home == "/" || home == "/nonexistent") continue;
    auto norm = paths::Normalize(home, paths::PathStyle::kPosix);
    if (norm.ok()) shared.insert(*norm);
  }
  endpwent();
  facts.shared_folders.assign(shared.begin(), shared.end());
  return facts;
}

}  // namespace stockade::provision
