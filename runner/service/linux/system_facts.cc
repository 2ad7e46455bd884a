#include "runner/service/linux/system_facts.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "runner/service/grants.h"

namespace stockade::runner::service::linux_os {

namespace {

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return "";
  return std::string(buf, static_cast<std::size_t>(n));
}

// True when a cgroup path like "/system.slice/x/stockade/run-12-3" names a tree's cgroup.
bool IsTreeCgroup(const std::string& path, const std::string& parent) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (!part.empty()) parts.push_back(part);
  }
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].rfind("run-", 0) != 0) continue;
    if (parts[i - 1] == parent || parts[i - 1].rfind("stockade", 0) == 0) return true;
  }
  return false;
}

}  // namespace

Expected<std::optional<Account>> LinuxSystemFacts::FindAccount(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return ErrnoError(ErrorCode::kOs, "getpwnam_r(" + name + ")", rc);
  if (found == nullptr) return std::optional<Account>();
  return std::optional<Account>(Account{name, found->pw_uid, found->pw_gid});
}

Expected<std::string> LinuxSystemFacts::RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  if (!resolved) {
    const int err = errno;
    return ErrnoError(err == ENOENT || err == ENOTDIR ? ErrorCode::kNotFound : ErrorCode::kOs,
                      "realpath(" + path + ")", err);
  }
  return std::string(resolved.get());
}

Expected<std::uint32_t> LinuxSystemFacts::OwnerUid(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(ErrorCode::kIo, "stat " + path, errno);
  return static_cast<std::uint32_t>(st.st_uid);
}

Expected<std::string> LinuxSystemFacts::HomeOf(std::uint32_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return ErrnoError(ErrorCode::kOs, "getpwuid_r(" + std::to_string(uid) + ")", rc);
  if (found == nullptr || found->pw_dir == nullptr || found->pw_dir[0] != '/') {
    return Error(ErrorCode::kNotFound, "uid " + std::to_string(uid) + " has no home folder");
  }
  return std::string(found->pw_dir);
}

Expected<std::vector<Grant>> LinuxSystemFacts::LiveGrants() { return ReadLiveGrants(state_dir_); }

Expected<std::vector<std::uint32_t>> AccountGroups(const Account& account) {
  int count = 64;
  std::vector<gid_t> groups;
  for (int attempt = 0; attempt < 4; ++attempt) {
    groups.resize(static_cast<std::size_t>(count));
    int n = count;
    if (::getgrouplist(account.name.c_str(), account.gid, groups.data(), &n) >= 0) {
      groups.resize(static_cast<std::size_t>(n));
      return std::vector<std::uint32_t>(groups.begin(), groups.end());
    }
    count = n > count ? n : count * 4;
  }
  return Error(ErrorCode::kOs, "getgrouplist(" + account.name + "): too many groups");
}

Expected<Caller> IdentifyPeer(int socket_fd, const std::string& cgroup_parent) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ErrnoError(ErrorCode::kOs, "getsockopt(SO_PEERCRED)", errno);
  }
  Caller caller;
  caller.uid = cred.uid;
  caller.gid = cred.gid;
  caller.pid = cred.pid;
  if (cred.pid <= 0) {
    caller.inside_tree = "its pid is not visible to the service (another PID namespace)";
    return caller;
  }
  const std::string proc = "/proc/" + std::to_string(cred.pid);
  const std::string own_ns = ReadLink("/proc/self/ns/pid");
  const std::string peer_ns = ReadLink(proc + "/ns/pid");
  if (peer_ns.empty()) {
    caller.inside_tree = "its process " + std::to_string(cred.pid) + " is gone or unreadable";
    return caller;
  }
  if (peer_ns != own_ns) {
    caller.inside_tree = "another PID namespace (" + peer_ns + "), as unprovisioned trees use";
    return caller;
  }
  std::ifstream cgroups(proc + "/cgroup");
  std::string line;
  while (std::getline(cgroups, line)) {
    // "hierarchy-id:controllers:/path"
    const std::size_t second = line.find(':', line.find(':') + 1);
    if (second == std::string::npos) continue;
    const std::string path = line.substr(second + 1);
    if (IsTreeCgroup(path, cgroup_parent)) {
      caller.inside_tree = "cgroup " + path;
      return caller;
    }
  }
  return caller;
}

}  // namespace stockade::runner::service::linux_os
