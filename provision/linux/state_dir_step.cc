#include "provision/linux/state_dir_step.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/log/logging.h"
#include "provision/linux/accounts.h"
#include "provision/linux/acl_codec.h"
#include "provision/linux/acl_tree.h"
#include "provision/linux/fs_at.h"
#include "provision/linux/run_as.h"
#include "provision/linux/step_params.h"

namespace stockade::provision::linux_os {
namespace {

constexpr uid_t kNobody = 65534;

struct Split {
  std::string parent;
  std::string base;
};

Split SplitParent(const std::string& path) {
  size_t slash = path.rfind('/');
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

std::string Octal(unsigned mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

Expected<unsigned> ParseMode(const StepSpec& spec) {
  if (!spec.params.is_object() || !spec.params.contains("mode")) return 0700u;
  const nlohmann::json& m = spec.params["mode"];
  unsigned long mode = 0;
  if (m.is_number_integer() && m.get<long long>() >= 0) {
    mode = static_cast<unsigned long>(m.get<long long>());
  } else if (m.is_string()) {
    std::string s = m.get<std::string>();
    char* end = nullptr;
    mode = std::strtoul(s.c_str(), &end, 8);
    if (s.empty() || *end != '\0') {
      return Error(ErrorCode::kInvalidArgument,
                   StepLabel(spec) + ": params.mode '" + s + "' is not an octal mode");
    }
  } else {
    return Error(ErrorCode::kInvalidArgument, StepLabel(spec) + ": params.mode must be octal");
  }
  // root keeps rwx; the group may read and search; others may at most search (x), so that a
  // socket below can be reached by name while nothing can be listed, read or written.
  if ((mode & ~0777ul) != 0 || (mode & 0700) != 0700 || (mode & 0020) != 0 || (mode & 0006) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": params.mode " + Octal(static_cast<unsigned>(mode)) +
                     " would let the sandbox identities in (allowed: 07[0,1,5][0,1])");
  }
  return static_cast<unsigned>(mode);
}

// Opens the folder itself (no symlink anywhere in the path).
Expected<UniqueFd> OpenStateDir(const std::string& path) { return OpenDirNoFollow(path); }

Expected<gid_t> GroupId(const std::string& name) {
  auto g = LookupGroup(name);
  if (!g.ok()) return g.error();
  if (!g->has_value()) return Error(ErrorCode::kNotFound, "group " + name + " does not exist");
  return (*g)->gid;
}

// Names directly inside the folder (read as root).
std::vector<std::string> EntriesOf(int fd) {
  std::vector<std::string> names;
  int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) return names;
  DIR* d = fdopendir(dup_fd);
  if (d == nullptr) {
    close(dup_fd);
    return names;
  }
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  return names;
}

}  // namespace

Expected<std::unique_ptr<Step>> StateDirStep::Create(const StepSpec& spec) {
  auto path = ParamString(spec, "path");
  if (!path.ok()) return path.error();
  auto parts = SplitAbsolute(*path);
  if (!parts.ok()) return parts.error().Wrap(StepLabel(spec));
  if (parts->empty()) {
    return Error(ErrorCode::kPathInvalid, StepLabel(spec) + ": the state folder cannot be '/'");
  }
  std::string norm;
  for (const std::string& p : *parts) norm += "/" + p;
  auto group = ParamStringOr(spec, "group", "root");
  if (!group.ok()) return group.error();
  auto mode = ParseMode(spec);
  if (!mode.ok()) return mode.error();
  auto users = ParamStringList(spec, "users");
  if (!users.ok()) return users.error();
  return std::unique_ptr<Step>(new StateDirStep(spec, norm, *group, *mode, *users));
}

std::string StateDirStep::Describe() const {
  return "secure the state folder " + path_ + " (root:" + group_ + ", mode " + Octal(mode_) +
         ", no ACL)";
}

Expected<nlohmann::json> StateDirStep::CaptureBefore() {
  auto fd = OpenStateDir(path_);
  if (!fd.ok()) {
    if (fd.error().code() == ErrorCode::kNotFound) {
      // Only the folder itself may be missing: its parent must exist.
      auto parent = OpenDirNoFollow(SplitParent(path_).parent);
      if (!parent.ok()) return parent.error().Wrap("state folder " + path_);
      return nlohmann::json{{"existed", false}};
    }
    return fd.error().Wrap("state folder " + path_);
  }
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoError(ErrorCode::kIo, "stat " + path_, errno);
  auto acls = ReadAclsOfFd(fd->get(), st.st_mode, true, path_);
  if (!acls.ok()) return acls.error();
  return nlohmann::json{
      {"existed", true},
      {"mode", st.st_mode & 07777},
      {"uid", st.st_uid},
      {"gid", st.st_gid},
      {"access_acl",
       acls->has_access_xattr ? nlohmann::json(AclToText(acls->access)) : nlohmann::json()},
      {"default_acl",
       acls->default_acl ? nlohmann::json(AclToText(*acls->default_acl)) : nlohmann::json()}};
}

Expected<bool> StateDirStep::IsApplied() {
  auto fd = OpenStateDir(path_);
  if (!fd.ok()) {
    if (fd.error().code() == ErrorCode::kNotFound) return false;
    return fd.error();
  }
  return Verify().ok();
}

Status StateDirStep::Apply() {
  auto gid = GroupId(group_);
  if (!gid.ok()) return gid.error().Wrap("state folder " + path_);
  Split split = SplitParent(path_);
  auto parent = OpenDirNoFollow(split.parent);
  if (!parent.ok()) return parent.error().Wrap("state folder " + path_);
  if (mkdirat(parent->get(), split.base.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(ErrorCode::kIo, "create the state folder " + path_, errno);
  }
  UniqueFd fd(
      openat(parent->get(), split.base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    int e = errno;
    if (e == ELOOP || e == ENOTDIR) {
      return ErrnoError(ErrorCode::kPathInvalid,
                        "state folder " + path_ + " is a symlink or not a directory", e);
    }
    return ErrnoError(ErrorCode::kIo, "open the state folder " + path_, e);
  }
  if (fchown(fd.get(), 0, *gid) != 0) return ErrnoError(ErrorCode::kIo, "chown " + path_, errno);
  const std::optional<Acl> no_default;
  STOCKADE_RETURN_IF_ERROR(WriteAclsOfFd(fd.get(), MinimalAclFromMode(mode_), &no_default, path_));
  if (fchmod(fd.get(), mode_) != 0) return ErrnoError(ErrorCode::kIo, "chmod " + path_, errno);
  return OkStatus();
}

Status StateDirStep::Verify() {
  const std::string label = "state folder " + path_;
  auto fail = [&](const std::string& what) {
    return Error(ErrorCode::kVerificationFailed, label + " " + what);
  };
  std::vector<UniqueFd> ancestors;
  auto fd = OpenDirNoFollow(path_, &ancestors);
  if (!fd.ok()) return fail(fd.error().context());
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoError(ErrorCode::kIo, "stat " + path_, errno);
  auto gid = GroupId(group_);
  if (!gid.ok()) return fail(gid.error().context());
  if (st.st_uid != 0) return fail("is owned by uid " + std::to_string(st.st_uid) + ", not root");
  if (st.st_gid != *gid) {
    return fail("has group " + std::to_string(st.st_gid) + ", expected " + group_);
  }
  if ((st.st_mode & 07777) != mode_) {
    return fail("has mode " + Octal(st.st_mode & 07777) + ", expected " + Octal(mode_));
  }
  auto acls = ReadAclsOfFd(fd->get(), st.st_mode, true, path_);
  if (!acls.ok()) return acls.error();
  if (acls->has_access_xattr) return fail("has an ACL " + AclToText(acls->access));
  if (acls->default_acl) return fail("has a default ACL " + AclToText(*acls->default_acl));
  // An ancestor writable by someone other than root would let them rename the folder away and
  // put their own in its place; the sticky bit (/tmp) prevents that.
  auto parts = SplitAbsolute(path_);
  std::string apath = "/";
  for (size_t i = 0; i < ancestors.size(); ++i) {
    if (i > 0) apath += (i > 1 ? "/" : "") + (*parts)[i - 1];
    struct stat ast;
    if (fstat(ancestors[i].get(), &ast) != 0) continue;
    if (ast.st_mode & S_ISVTX) continue;
    if (ast.st_uid != 0) {
      return fail("lies in " + apath + ", owned by uid " + std::to_string(ast.st_uid));
    }
    auto aacl = ReadAclsOfFd(ancestors[i].get(), ast.st_mode, false, apath);
    if (!aacl.ok()) return aacl.error();
    std::uint16_t mask = 7;
    for (const AclEntry& e : aacl->access) {
      if (e.tag == AclTag::kMask) mask = e.perm;
    }
    for (const AclEntry& e : aacl->access) {
      bool writes = false;
      if (e.tag == AclTag::kOther) writes = e.perm & kAclWrite;
      if (e.tag == AclTag::kUser && e.id != 0) writes = e.perm & mask & kAclWrite;
      if (e.tag == AclTag::kGroup && e.id != 0) writes = e.perm & mask & kAclWrite;
      if (e.tag == AclTag::kGroupObj && ast.st_gid != 0) writes = e.perm & mask & kAclWrite;
      if (writes) {
        return fail("lies in " + apath + ", which others can write (" + AclToText(aacl->access) +
                    ")");
      }
    }
  }
  return CheckAccessAsSandbox();
}

Status StateDirStep::CheckAccessAsSandbox() const {
  std::vector<std::pair<std::string, Credentials>> who;
  for (const std::string& user : users_) {
    auto creds = CredentialsOfUser(user);
    if (creds.ok()) {
      who.emplace_back("user " + user, *creds);
    } else if (creds.error().code() != ErrorCode::kNotFound) {
      return creds.error();
    }
  }
  if (who.empty()) who.emplace_back("nobody", Credentials{kNobody, kNobody, {}});
  auto fd = OpenStateDir(path_);
  if (!fd.ok()) return fd.error();
  const std::vector<std::string> names = EntriesOf(fd->get());
  const std::string path = path_;
  auto probe = [&names, &path]() -> std::string {
    int f = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f >= 0) {
      close(f);
      return "can list it";
    }
    std::string created = path + "/.stockade-access-probe";
    f = open(created.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f >= 0) {
      close(f);
      unlink(created.c_str());
      return "can create files in it";
    }
    for (const std::string& n : names) {
      std::string p = path + "/" + n;
      f = open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (f >= 0) {
        close(f);
        return "can read " + p;
      }
      f = open(p.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (f >= 0) {
        close(f);
        return "can write " + p;
      }
    }
    return "";
  };
  for (const auto& [label, creds] : who) {
    auto result = RunAs(creds, probe);
    if (!result.ok()) return result.error().Wrap("state folder " + path_ + " access check");
    if (!result->empty()) {
      return Error(ErrorCode::kVerificationFailed, "state folder " + path_ + ": " + label +
                                                       " (uid " + std::to_string(creds.uid) + ") " +
                                                       *result);
    }
  }
  return OkStatus();
}

Status StateDirStep::Undo(const nlohmann::json& before) {
  if (!before.is_object() || !before.contains("existed") || !before["existed"].is_boolean()) {
    return CorruptBefore(spec(), "lacks 'existed'");
  }
  if (!before["existed"].get<bool>()) {
    Split split = SplitParent(path_);
    auto parent = OpenDirNoFollow(split.parent);
    if (!parent.ok()) {
      if (parent.error().code() == ErrorCode::kNotFound) return OkStatus();
      return parent.error();
    }
    if (unlinkat(parent->get(), split.base.c_str(), AT_REMOVEDIR) != 0) {
      int e = errno;
      if (e == ENOENT) return OkStatus();
      if (e == ENOTEMPTY || e == EEXIST) {
        log::Logger()->info("state folder {} holds data: kept, closed to others", path_);
        return OkStatus();
      }
      return ErrnoError(ErrorCode::kIo, "remove the state folder " + path_, e);
    }
    return OkStatus();
  }
  try {
    auto fd = OpenStateDir(path_);
    if (!fd.ok()) return fd.error().Wrap("restore the state folder");
    unsigned mode = before.at("mode").get<unsigned>();
    uid_t uid = before.at("uid").get<uid_t>();
    gid_t gid = before.at("gid").get<gid_t>();
    if (fchown(fd->get(), uid, gid) != 0) {
      return ErrnoError(ErrorCode::kIo, "chown " + path_, errno);
    }
    Acl access = MinimalAclFromMode(mode);
    if (!before.at("access_acl").is_null()) {
      auto parsed = AclFromText(before["access_acl"].get<std::string>());
      if (!parsed.ok()) return parsed.error().Wrap(StepLabel(spec()));
      access = *parsed;
    }
    std::optional<Acl> def;
    if (!before.at("default_acl").is_null()) {
      auto parsed = AclFromText(before["default_acl"].get<std::string>());
      if (!parsed.ok()) return parsed.error().Wrap(StepLabel(spec()));
      def = *parsed;
    }
    STOCKADE_RETURN_IF_ERROR(WriteAclsOfFd(fd->get(), access, &def, path_));
    // Last: chown cleared set-id bits, and the mode's group bits must equal the ACL's mask.
    if (fchmod(fd->get(), mode) != 0) return ErrnoError(ErrorCode::kIo, "chmod " + path_, errno);
  } catch (const nlohmann::json::exception& e) {
    return CorruptBefore(spec(), std::string("is malformed: ") + e.what());
  }
  return OkStatus();
}

Status StateDirStep::VerifyUndone(const nlohmann::json& before) {
  if (!before.is_object() || !before.contains("existed") || !before["existed"].is_boolean()) {
    return CorruptBefore(spec(), "lacks 'existed'");
  }
  auto fd = OpenStateDir(path_);
  if (!before["existed"].get<bool>()) {
    if (!fd.ok()) {
      if (fd.error().code() == ErrorCode::kNotFound) return OkStatus();
      return fd.error();
    }
    if (EntriesOf(fd->get()).empty()) {
      return Error(ErrorCode::kVerificationFailed,
                   "state folder " + path_ + " did not exist before and is still there (empty)");
    }
    return OkStatus();  // kept because it holds data (see Undo)
  }
  if (!fd.ok()) return fd.error().Wrap("state folder " + path_);
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoError(ErrorCode::kIo, "stat " + path_, errno);
  auto acls = ReadAclsOfFd(fd->get(), st.st_mode, true, path_);
  if (!acls.ok()) return acls.error();
  nlohmann::json now = {
      {"existed", true},
      {"mode", st.st_mode & 07777},
      {"uid", st.st_uid},
      {"gid", st.st_gid},
      {"access_acl",
       acls->has_access_xattr ? nlohmann::json(AclToText(acls->access)) : nlohmann::json()},
      {"default_acl",
       acls->default_acl ? nlohmann::json(AclToText(*acls->default_acl)) : nlohmann::json()}};
  if (now != before) {
    return Error(ErrorCode::kVerificationFailed,
                 "state folder " + path_ + " is " + now.dump() + ", was " + before.dump());
  }
  return OkStatus();
}

}  // namespace stockade::provision::linux_os
