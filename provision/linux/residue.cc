#include "provision/linux/residue.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "provision/linux/accounts.h"
#include "provision/linux/acl_tree.h"
#include "provision/linux/fs_at.h"
#include "provision/linux/nft.h"
#include "provision/linux/nft_step.h"

namespace stockade::provision::linux_os {
namespace {

bool HasPrefix(const std::string& name, const std::string& prefix) {
  return name.compare(0, prefix.size() + 1, prefix + "-") == 0;
}

// First fields of a colon-separated file that start with "<prefix>-".
Status ScanNames(const std::string& path, const std::string& prefix, const std::string& kind,
                 std::vector<ResidueFinding>* out) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return OkStatus();
    return ErrnoError(ErrorCode::kIo, "read " + path, errno);
  }
  std::string line;
  while (std::getline(in, line)) {
    std::string name = line.substr(0, line.find(':'));
    if (HasPrefix(name, prefix)) out->push_back({kind, name, "entry in " + path});
  }
  return OkStatus();
}

// Live processes whose real uid is one of `uids` (from /proc/PID/status). A zombie is skipped:
// it runs nothing and holds nothing but its pid, and on a machine whose PID 1 does not reap
// (this project's CI VM) nobody else can remove it either.
Status ScanProcesses(const std::vector<uid_t>& uids, std::vector<ResidueFinding>* out) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return ErrnoError(ErrorCode::kIo, "opendir /proc", errno);
  while (const dirent* entry = readdir(proc)) {
    const std::string pid = entry->d_name;
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(),
                                    [](unsigned char c) { return std::isdigit(c) != 0; })) {
      continue;
    }
    std::ifstream status("/proc/" + pid + "/status");
    std::string line, name, state;
    long uid = -1;
    while (std::getline(status, line)) {
      if (line.rfind("Name:", 0) == 0) name = line.substr(line.find_first_not_of(" \t", 5));
      if (line.rfind("State:", 0) == 0) state = line.substr(line.find_first_not_of(" \t", 6));
      if (line.rfind("Uid:", 0) == 0) uid = std::strtol(line.c_str() + 4, nullptr, 10);
    }
    // The process may have ended between readdir and the read: nothing is left of it then.
    if (uid < 0 || state.rfind('Z', 0) == 0) continue;
    if (std::find(uids.begin(), uids.end(), static_cast<uid_t>(uid)) == uids.end()) continue;
    out->push_back({"process", pid, "uid " + std::to_string(uid) + " still runs " + name});
  }
  closedir(proc);
  return OkStatus();
}

// Cgroup folders named `names` at the top of `root` (a cgroup2 mount) and of each hierarchy
// mounted below it (v1: pids, memory, ...; hybrid: unified).
void ScanCgroups(const std::string& root, const std::vector<std::string>& names,
                 std::vector<ResidueFinding>* out) {
  std::vector<std::string> tops = {root};
  if (DIR* dir = opendir(root.c_str())) {
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      const std::string path = root + "/" + name;
      if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) tops.push_back(path);
    }
    closedir(dir);
  }
  for (const std::string& top : tops) {
    for (const std::string& name : names) {
      struct stat st;
      const std::string path = top + "/" + name;
      if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        out->push_back({"cgroup", path, "the runner's cgroup folder is still there"});
      }
    }
  }
}

}  // namespace

Expected<std::vector<ResidueFinding>> ScanResidue(const ResidueQuery& q) {
  if (q.prefix.empty()) return Error(ErrorCode::kInvalidArgument, "residue scan needs a prefix");
  std::vector<ResidueFinding> out;
  std::vector<uid_t> uids = q.uids;
  std::vector<gid_t> gids = q.gids;

  auto users = LocalUsers();
  if (!users.ok()) return users.error();
  for (const LocalAccount& u : *users) {
    if (!HasPrefix(u.name, q.prefix)) continue;
    out.push_back({"user", u.name, "uid " + std::to_string(u.id) + " in /etc/passwd"});
    uids.push_back(u.id);
  }
  auto groups = LocalGroups();
  if (!groups.ok()) return groups.error();
  for (const LocalAccount& g : *groups) {
    if (!HasPrefix(g.name, q.prefix)) continue;
    out.push_back({"group", g.name, "gid " + std::to_string(g.id) + " in /etc/group"});
    gids.push_back(g.id);
  }
  STOCKADE_RETURN_IF_ERROR(ScanNames("/etc/shadow", q.prefix, "shadow", &out));
  STOCKADE_RETURN_IF_ERROR(ScanNames("/etc/gshadow", q.prefix, "gshadow", &out));
  STOCKADE_RETURN_IF_ERROR(ScanNames("/etc/subuid", q.prefix, "subid", &out));
  STOCKADE_RETURN_IF_ERROR(ScanNames("/etc/subgid", q.prefix, "subid", &out));

  std::vector<std::string> tables = q.nft_tables;
  tables.push_back(NftTableNameForPrefix(q.prefix));
  auto live = ListNftTables();
  if (!live.ok()) return live.error();
  for (const NftTableName& t : *live) {
    if (t.family == kNftFamily && std::find(tables.begin(), tables.end(), t.name) != tables.end()) {
      out.push_back({"nft_table", t.family + " " + t.name, "nftables table still present"});
    }
  }

  ScanCgroups(q.cgroup_root, q.cgroup_names, &out);

  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::sort(gids.begin(), gids.end());
  gids.erase(std::unique(gids.begin(), gids.end()), gids.end());
  if (uids.empty() && gids.empty()) return out;
  STOCKADE_RETURN_IF_ERROR(ScanProcesses(uids, &out));

  std::vector<AclPrincipal> principals;
  for (uid_t u : uids) principals.push_back({false, u});
  for (gid_t g : gids) principals.push_back({true, g});
  for (const std::string& path : q.paths) {
    std::vector<UniqueFd> ancestors;
    auto root = OpenDirNoFollow(path, &ancestors);
    if (!root.ok()) {
      if (root.error().code() == ErrorCode::kNotFound) continue;
      return root.error().Wrap("residue scan");
    }
    // Ancestors: search permission may have been added there.
    auto parts = SplitAbsolute(path);
    std::string apath = "/";
    for (size_t i = 0; i < ancestors.size(); ++i) {
      if (i > 0) apath += (i > 1 ? "/" : "") + (*parts)[i - 1];
      struct stat st;
      if (fstat(ancestors[i].get(), &st) != 0) continue;
      auto acls = ReadAclsOfFd(ancestors[i].get(), st.st_mode, false, apath);
      if (!acls.ok()) return acls.error();
      for (const AclEntry& e : acls->access) {
        bool ours =
            (e.tag == AclTag::kUser && std::find(uids.begin(), uids.end(), e.id) != uids.end()) ||
            (e.tag == AclTag::kGroup && std::find(gids.begin(), gids.end(), e.id) != gids.end());
        if (ours) out.push_back({"acl_entry", apath, "access ACL entry " + AclToText({e})});
      }
    }
    TreeStats stats;
    size_t room = q.max_findings > out.size() ? q.max_findings - out.size() : 0;
    if (room == 0) break;
    auto found = FindAclEntries(root->get(), uids, gids, q.owned_files, room, &stats);
    if (!found.ok()) return found.error().Wrap("residue scan of " + path);
    for (const AclFinding& f : *found) {
      std::string where = f.relpath.empty() ? path : path + "/" + EscapeRelPath(f.relpath);
      bool owned = f.what.find("owned") != std::string::npos;
      out.push_back({owned ? "owned_file" : "acl_entry", where, f.what});
    }
  }
  return out;
}

}  // namespace stockade::provision::linux_os
