#include "provision/linux/acl_grant_step.h"

#include <sys/stat.h>

#include <chrono>

#include "core/log/logging.h"
#include "provision/linux/accounts.h"
#include "provision/linux/fs_at.h"
#include "provision/linux/run_as.h"
#include "provision/linux/step_params.h"

namespace stockade::provision::linux_os {
namespace {

struct Ancestor {
  std::string path;
  UniqueFd fd;
  struct stat st {};
  NodeAcls acls;
  bool lacks_search = false;
};

// Opens the root without following links and reads every ancestor's access ACL.
Expected<UniqueFd> OpenRootAndAncestors(const std::string& root,
                                        const std::vector<AclCheckSubject>& subjects,
                                        std::vector<Ancestor>* out) {
  std::vector<UniqueFd> fds;
  auto root_fd = OpenDirNoFollow(root, &fds);
  if (!root_fd.ok()) return root_fd.error();
  auto parts = SplitAbsolute(root);
  if (!parts.ok()) return parts.error();
  std::string path = "/";
  for (size_t i = 0; i < fds.size(); ++i) {
    if (i > 0) path += (i > 1 ? "/" : "") + (*parts)[i - 1];
    Ancestor a;
    a.path = path;
    a.fd = std::move(fds[i]);
    if (fstat(a.fd.get(), &a.st) != 0) return ErrnoError(ErrorCode::kIo, "stat " + path, errno);
    auto acls = ReadAclsOfFd(a.fd.get(), a.st.st_mode, false, path);
    if (!acls.ok()) return acls.error();
    a.acls = std::move(*acls);
    for (const AclCheckSubject& s : subjects) {
      if (!AclAllows(a.acls.access, a.st.st_uid, a.st.st_gid, s.subject, kAclExecute)) {
        a.lacks_search = true;
      }
    }
    out->push_back(std::move(a));
  }
  return std::move(*root_fd);
}

std::string StatsLine(const TreeStats& s) {
  return std::to_string(s.files) + " files, " + std::to_string(s.dirs) + " directories (" +
         std::to_string(s.protected_nodes) + " protected), " + std::to_string(s.acl_writes) +
         " ACL writes, " + std::to_string(s.acl_reads) + " ACL reads; skipped " +
         std::to_string(s.skipped_links) + " symlinks, " + std::to_string(s.skipped_special) +
         " special files, " + std::to_string(s.skipped_mounts) + " mount points";
}

struct GrantBefore {
  std::string root;
  std::uint64_t dev = 0, ino = 0;
  std::vector<AclPrincipal> principals;
  struct AncestorBefore {
    std::string path;
    std::uint64_t ino = 0;
    std::string acl;
  };
  std::vector<AncestorBefore> ancestors;
  std::vector<PriorAcl> prior;
};

Expected<GrantBefore> ParseBefore(const StepSpec& spec, const nlohmann::json& j) {
  GrantBefore b;
  try {
    b.root = j.at("root").get<std::string>();
    b.dev = j.at("dev").get<std::uint64_t>();
    b.ino = j.at("ino").get<std::uint64_t>();
    for (const nlohmann::json& p : j.at("principals")) {
      b.principals.push_back(
          {p.at("type").get<std::string>() == "group", p.at("id").get<std::uint32_t>()});
    }
    for (const nlohmann::json& a : j.at("ancestors")) {
      b.ancestors.push_back({a.at("path").get<std::string>(), a.at("ino").get<std::uint64_t>(),
                             a.at("acl").get<std::string>()});
    }
    for (const nlohmann::json& p : j.at("prior")) {
      PriorAcl prior;
      auto rel = UnescapeRelPath(p.at("path").get<std::string>());
      if (!rel) return CorruptBefore(spec, "has a malformed path " + p.at("path").dump());
      prior.relpath = std::move(*rel);
      prior.ino = p.at("ino").get<std::uint64_t>();
      if (!p.at("access").is_null()) prior.access = p.at("access").get<std::string>();
      if (!p.at("default").is_null()) prior.default_acl = p.at("default").get<std::string>();
      b.prior.push_back(std::move(prior));
    }
  } catch (const nlohmann::json::exception& e) {
    return CorruptBefore(spec, std::string("is malformed: ") + e.what());
  }
  return b;
}

}  // namespace

Expected<std::unique_ptr<Step>> AclGrantStep::Create(const StepSpec& spec) {
  auto path = ParamString(spec, "path");
  if (!path.ok()) return path.error();
  auto parts = SplitAbsolute(*path);
  if (!parts.ok()) return parts.error().Wrap(StepLabel(spec));
  if (parts->empty()) {
    return Error(ErrorCode::kPathInvalid, StepLabel(spec) + ": refusing to grant the root '/'");
  }
  std::string root;
  for (const std::string& p : *parts) root += "/" + p;
  std::vector<Principal> principals;
  auto users = ParamStringList(spec, "users");
  if (!users.ok()) return users.error();
  auto groups = ParamStringList(spec, "groups");
  if (!groups.ok()) return groups.error();
  for (const std::string& u : *users) principals.push_back({false, u});
  for (const std::string& g : *groups) principals.push_back({true, g});
  if (principals.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": params.users or params.groups must name someone");
  }
  for (const Principal& p : principals) {
    if (!IsValidAccountName(p.name)) {
      return Error(ErrorCode::kInvalidArgument,
                   StepLabel(spec) + ": '" + p.name + "' is not a valid account name");
    }
  }
  auto prot = ParamStringList(spec, "protected");
  if (!prot.ok()) return prot.error();
  for (const std::string& p : *prot) {
    if (p.empty() || p.find('{') != std::string::npos || p.find('~') == 0 ||
        p.find('%') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   StepLabel(spec) + ": protected entry '" + p +
                       "' must be a name or an expanded path (no placeholders)");
    }
  }
  return std::unique_ptr<Step>(new AclGrantStep(spec, root, std::move(principals), *prot));
}

std::string AclGrantStep::Describe() const {
  std::string who;
  for (const Principal& p : principals_) {
    who += (who.empty() ? "" : ", ") + std::string(p.is_group ? "group " : "user ") + p.name;
  }
  return "grant " + who + " read/write on " + root_ + " (POSIX ACLs; protected paths read-only)";
}

Expected<AclGrantStep::Resolved> AclGrantStep::Resolve() const {
  Resolved r;
  r.principals_json = nlohmann::json::array();
  for (const Principal& p : principals_) {
    if (p.is_group) {
      auto g = LookupGroup(p.name);
      if (!g.ok()) return g.error();
      if (!g->has_value()) {
        r.missing = true;
        r.missing_name = "group " + p.name;
        return r;
      }
      r.rules.principals.push_back({true, (*g)->gid});
      r.subjects.push_back({"group " + p.name, AclSubject{std::nullopt, {(*g)->gid}}});
      r.principals_json.push_back({{"type", "group"}, {"name", p.name}, {"id", (*g)->gid}});
    } else {
      auto creds = CredentialsOfUser(p.name);
      if (!creds.ok()) {
        if (creds.error().code() != ErrorCode::kNotFound) return creds.error();
        r.missing = true;
        r.missing_name = "user " + p.name;
        return r;
      }
      r.rules.principals.push_back({false, creds->uid});
      std::vector<gid_t> gids = creds->groups;
      gids.push_back(creds->gid);
      r.subjects.push_back({"user " + p.name, AclSubject{creds->uid, gids}});
      r.principals_json.push_back({{"type", "user"}, {"name", p.name}, {"id", creds->uid}});
    }
  }
  for (const std::string& p : protected_) {
    if (p[0] == '/') {
      std::string prefix = root_ + "/";
      if (p.compare(0, prefix.size(), prefix) == 0) {
        std::string rel = p.substr(prefix.size());
        while (!rel.empty() && rel.back() == '/') rel.pop_back();
        if (!rel.empty()) r.rules.protected_relpaths.push_back(rel);
      }
    } else if (p.find('/') == std::string::npos) {
      r.rules.protected_names.push_back(p);
    } else {
      std::string rel = p;
      while (rel.rfind("./", 0) == 0) rel.erase(0, 2);
      while (!rel.empty() && rel.back() == '/') rel.pop_back();
      if (!rel.empty()) r.rules.protected_relpaths.push_back(rel);
    }
  }
  return r;
}

Expected<nlohmann::json> AclGrantStep::CaptureBefore() {
  auto resolved = Resolve();
  if (!resolved.ok()) return resolved.error();
  if (resolved->missing) {
    return Error(ErrorCode::kNotFound,
                 "cannot grant " + root_ + ": " + resolved->missing_name + " does not exist");
  }
  std::vector<Ancestor> ancestors;
  auto root_fd = OpenRootAndAncestors(root_, resolved->subjects, &ancestors);
  if (!root_fd.ok()) return root_fd.error().Wrap("workspace " + root_);
  struct stat st;
  if (fstat(root_fd->get(), &st) != 0) return ErrnoError(ErrorCode::kIo, "stat " + root_, errno);
  TreeStats stats;
  auto prior = CaptureNonMinimalAcls(root_fd->get(), &stats);
  if (!prior.ok()) return prior.error().Wrap("workspace " + root_);
  nlohmann::json before = {{"root", root_},
                           {"dev", static_cast<std::uint64_t>(st.st_dev)},
                           {"ino", static_cast<std::uint64_t>(st.st_ino)},
                           {"principals", resolved->principals_json},
                           {"others_minimal", true},
                           {"nodes", stats.files + stats.dirs}};
  nlohmann::json anc = nlohmann::json::array();
  for (const Ancestor& a : ancestors) {
    if (!a.lacks_search) continue;
    anc.push_back({{"path", a.path},
                   {"ino", static_cast<std::uint64_t>(a.st.st_ino)},
                   {"acl", AclToText(a.acls.access)}});
  }
  before["ancestors"] = std::move(anc);
  nlohmann::json pj = nlohmann::json::array();
  for (const PriorAcl& p : *prior) {
    pj.push_back({{"path", EscapeRelPath(p.relpath)},
                  {"ino", p.ino},
                  {"access", p.access ? nlohmann::json(*p.access) : nlohmann::json()},
                  {"default", p.default_acl ? nlohmann::json(*p.default_acl) : nlohmann::json()}});
  }
  before["prior"] = std::move(pj);
  return before;
}

Expected<bool> AclGrantStep::IsApplied() {
  auto resolved = Resolve();
  if (!resolved.ok()) return resolved.error();
  if (resolved->missing) return false;
  return Verify().ok();
}

Status AclGrantStep::Apply() {
  auto resolved = Resolve();
  if (!resolved.ok()) return resolved.error();
  if (resolved->missing) {
    return Error(ErrorCode::kNotFound,
                 "cannot grant " + root_ + ": " + resolved->missing_name + " does not exist");
  }
  std::vector<Ancestor> ancestors;
  auto root_fd = OpenRootAndAncestors(root_, resolved->subjects, &ancestors);
  if (!root_fd.ok()) return root_fd.error().Wrap("workspace " + root_);
  for (Ancestor& a : ancestors) {
    if (!a.lacks_search) continue;
    Acl updated = a.acls.access;
    for (const AclPrincipal& p : resolved->rules.principals) {
      AclTag tag = p.is_group ? AclTag::kGroup : AclTag::kUser;
      bool found = false;
      for (AclEntry& e : updated) {
        if (e.tag == tag && e.id == p.id) {
          e.perm |= kAclExecute;
          found = true;
        }
      }
      if (!found) updated.push_back({tag, kAclExecute, p.id});
    }
    SortAcl(&updated);
    RecalculateMask(&updated);
    STOCKADE_RETURN_IF_ERROR(WriteAclsOfFd(a.fd.get(), updated, nullptr, a.path));
  }
  last_stats_ = TreeStats{};
  auto started = std::chrono::steady_clock::now();
  Status granted = GrantAclTree(root_fd->get(), resolved->rules, &last_stats_);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started)
                .count();
  log::Logger()->info("grant {}: {} in {} ms", root_, StatsLine(last_stats_), ms);
  if (!granted.ok()) return granted.error().Wrap("workspace " + root_);
  return OkStatus();
}

Status AclGrantStep::Verify() {
  auto resolved = Resolve();
  if (!resolved.ok()) return resolved.error();
  if (resolved->missing) {
    return Error(ErrorCode::kVerificationFailed,
                 "grant on " + root_ + ": " + resolved->missing_name + " does not exist");
  }
  std::vector<Ancestor> ancestors;
  auto root_fd = OpenRootAndAncestors(root_, resolved->subjects, &ancestors);
  if (!root_fd.ok()) {
    return Error(ErrorCode::kVerificationFailed,
                 "grant on " + root_ + ": " + root_fd.error().context());
  }
  for (const Ancestor& a : ancestors) {
    if (a.lacks_search) {
      return Error(ErrorCode::kVerificationFailed,
                   "grant on " + root_ + ": a sandbox identity cannot search (x) " + a.path +
                       " (ACL " + AclToText(a.acls.access) + ")");
    }
  }
  last_stats_ = TreeStats{};
  Status ok = VerifyAclTree(root_fd->get(), resolved->rules, resolved->subjects, &last_stats_);
  if (!ok.ok()) return ok.error().Wrap("grant on " + root_);
  return OkStatus();
}

Status AclGrantStep::Undo(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto root_fd = OpenDirNoFollow(before->root);
  if (root_fd.ok()) {
    struct stat st;
    if (fstat(root_fd->get(), &st) != 0) {
      return ErrnoError(ErrorCode::kIo, "stat " + before->root, errno);
    }
    // Journaled ACLs belong to the tree we walked; a different directory now at that path only
    // gets our entries removed.
    bool same = static_cast<std::uint64_t>(st.st_dev) == before->dev &&
                static_cast<std::uint64_t>(st.st_ino) == before->ino;
    static const std::vector<PriorAcl> kNone;
    last_stats_ = TreeStats{};
    auto started = std::chrono::steady_clock::now();
    Status revoked = RevokeAclTree(root_fd->get(), before->principals, same ? before->prior : kNone,
                                   &last_stats_);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    log::Logger()->info("revoke {}: {} in {} ms", before->root, StatsLine(last_stats_), ms);
    if (!revoked.ok()) return revoked.error().Wrap("revoke on " + before->root);
  } else if (root_fd.error().code() != ErrorCode::kNotFound) {
    return root_fd.error().Wrap("revoke on " + before->root);
  }
  for (auto it = before->ancestors.rbegin(); it != before->ancestors.rend(); ++it) {
    auto fd = OpenDirNoFollow(it->path);
    if (!fd.ok()) {
      if (fd.error().code() == ErrorCode::kNotFound) continue;
      return fd.error().Wrap("restore the ACL of " + it->path);
    }
    struct stat st;
    if (fstat(fd->get(), &st) != 0) return ErrnoError(ErrorCode::kIo, "stat " + it->path, errno);
    if (static_cast<std::uint64_t>(st.st_ino) != it->ino) continue;  // not the same directory
    auto acl = AclFromText(it->acl);
    if (!acl.ok()) return acl.error().Wrap("journaled ACL of " + it->path);
    auto now = ReadAclsOfFd(fd->get(), st.st_mode, false, it->path);
    if (!now.ok()) return now.error();
    if (now->access == *acl) continue;
    STOCKADE_RETURN_IF_ERROR(WriteAclsOfFd(fd->get(), *acl, nullptr, it->path));
  }
  return OkStatus();
}

Status AclGrantStep::VerifyUndone(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto root_fd = OpenDirNoFollow(before->root);
  if (root_fd.ok()) {
    struct stat st;
    if (fstat(root_fd->get(), &st) != 0) {
      return ErrnoError(ErrorCode::kIo, "stat " + before->root, errno);
    }
    bool same = static_cast<std::uint64_t>(st.st_dev) == before->dev &&
                static_cast<std::uint64_t>(st.st_ino) == before->ino;
    static const std::vector<PriorAcl> kNone;
    TreeStats stats;
    Status ok = VerifyAclTreeRevoked(root_fd->get(), before->principals,
                                     same ? before->prior : kNone, &stats);
    if (!ok.ok()) return ok.error().Wrap("revoke on " + before->root);
  } else if (root_fd.error().code() != ErrorCode::kNotFound) {
    return root_fd.error().Wrap("revoke on " + before->root);
  }
  for (const GrantBefore::AncestorBefore& a : before->ancestors) {
    auto fd = OpenDirNoFollow(a.path);
    if (!fd.ok()) continue;
    struct stat st;
    if (fstat(fd->get(), &st) != 0 || static_cast<std::uint64_t>(st.st_ino) != a.ino) continue;
    auto now = ReadAclsOfFd(fd->get(), st.st_mode, false, a.path);
    if (!now.ok()) return now.error();
    if (AclToText(now->access) != a.acl) {
      return Error(ErrorCode::kVerificationFailed, "revoke on " + before->root + ": ancestor " +
                                                       a.path + " has ACL " +
                                                       AclToText(now->access) + ", was " + a.acl);
    }
  }
  return OkStatus();
}

}  // namespace stockade::provision::linux_os
