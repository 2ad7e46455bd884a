#include "provision/linux/user_step.h"

#include "provision/linux/accounts.h"
#include "provision/linux/step_params.h"

namespace stockade::provision::linux_os {
namespace {

constexpr char kUserAdd[] = "/usr/sbin/useradd";
constexpr char kUserDel[] = "/usr/sbin/userdel";

struct UserBefore {
  bool existed = false;
  AccountSnapshot accounts;
};

Expected<UserBefore> ParseBefore(const StepSpec& spec, const nlohmann::json& before) {
  if (!before.is_object() || !before.contains("existed") || !before["existed"].is_boolean() ||
      !before.contains("accounts")) {
    return CorruptBefore(spec, "lacks 'existed' or 'accounts'");
  }
  UserBefore out;
  out.existed = before["existed"].get<bool>();
  auto snap = AccountSnapshot::FromJson(before["accounts"]);
  if (!snap.ok()) return snap.error().Wrap(StepLabel(spec));
  out.accounts = std::move(*snap);
  return out;
}

bool IsAbsolutePath(const std::string& p) { return !p.empty() && p[0] == '/'; }

}  // namespace

Expected<std::unique_ptr<Step>> UserStep::Create(const StepSpec& spec) {
  auto name = ParamString(spec, "name");
  if (!name.ok()) return name.error();
  auto group = ParamString(spec, "group");
  if (!group.ok()) return group.error();
  auto identity = ParamStringOr(spec, "identity", "offline");
  if (!identity.ok()) return identity.error();
  auto home = ParamStringOr(spec, "home", kDefaultHome);
  if (!home.ok()) return home.error();
  auto shell = ParamStringOr(spec, "shell", kDefaultShell);
  if (!shell.ok()) return shell.error();
  if (!IsValidAccountName(*name) || !IsValidAccountName(*group)) {
    return Error(ErrorCode::kInvalidArgument, StepLabel(spec) + ": '" + *name + "' or '" + *group +
                                                  "' is not a valid account name");
  }
  if (*identity != "offline" && *identity != "online") {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": params.identity must be offline or online");
  }
  if (!IsAbsolutePath(*home) || !IsAbsolutePath(*shell)) {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": params.home and params.shell must be absolute paths");
  }
  return std::unique_ptr<Step>(new UserStep(spec, *name, *group, *home, *shell));
}

std::string UserStep::Describe() const {
  return "create system user " + name_ + " (group " + group_ + ", no home, no login shell)";
}

Expected<nlohmann::json> UserStep::CaptureBefore() {
  auto user = LookupUser(name_);
  if (!user.ok()) return user.error();
  auto snap = SnapshotAccountFiles();
  if (!snap.ok()) return snap.error();
  nlohmann::json before = {{"existed", user->has_value()}, {"accounts", snap->ToJson()}};
  if (user->has_value()) before["uid"] = (*user)->uid;
  return before;
}

Expected<bool> UserStep::IsApplied() {
  auto user = LookupUser(name_);
  if (!user.ok()) return user.error();
  if (!user->has_value()) return false;
  return Verify().ok();
}

Expected<bool> UserStep::TargetPresent() {
  auto found = LookupUser(name_);
  if (!found.ok()) return found.error();
  return found->has_value();
}

Status UserStep::Apply() {
  auto user = LookupUser(name_);
  if (!user.ok()) return user.error();
  if (user->has_value()) {
    Status ok = Verify();
    if (ok.ok()) return ok;  // ours, from a run that crashed before it was marked applied
    return Error(ErrorCode::kAlreadyExists, "user " + name_ +
                                                " already exists and is not a Stockade sandbox "
                                                "user (" +
                                                ok.error().context() + ")");
  }
  auto group = LookupGroup(group_);
  if (!group.ok()) return group.error();
  if (!group->has_value()) {
    return Error(ErrorCode::kNotFound,
                 "cannot create user " + name_ + ": its group " + group_ + " does not exist");
  }
  return RunShadowTool(
      {kUserAdd, "--system", "-M", "-l", "-d", home_, "-s", shell_, "-g", group_, name_});
}

Status UserStep::Verify() {
  const std::string label = "user " + name_;
  auto fail = [&](const std::string& what) {
    return Error(ErrorCode::kVerificationFailed, label + " " + what);
  };
  auto user = LookupUser(name_);
  if (!user.ok()) return user.error();
  if (!user->has_value()) return fail("does not exist (getpwnam)");
  const UserInfo& u = **user;
  long uid_min = LoginDefsNumber("UID_MIN", 1000);
  if (u.uid == 0 || static_cast<long>(u.uid) >= uid_min) {
    return fail("has uid " + std::to_string(u.uid) + ", not a system uid (1.." +
                std::to_string(uid_min - 1) + ")");
  }
  auto group = LookupGroup(group_);
  if (!group.ok()) return group.error();
  if (!group->has_value()) return fail("has a primary group, but group " + group_ + " is gone");
  if (u.gid != (*group)->gid) {
    return fail("has primary gid " + std::to_string(u.gid) + ", expected " + group_ + " (" +
                std::to_string((*group)->gid) + ")");
  }
  if (u.home != home_) return fail("has home " + u.home + ", expected " + home_);
  if (u.shell != shell_) return fail("has shell " + u.shell + ", expected " + shell_);
  auto groups = UserGroupIds(name_, u.gid);
  if (!groups.ok()) return groups.error();
  for (gid_t g : *groups) {
    if (g != u.gid) {
      return fail("is also a member of group " + std::to_string(g) + "; it should only be in " +
                  group_);
    }
  }
  auto password = ShadowPassword(name_);
  if (!password.ok()) return password.error();
  if (password->has_value()) {
    const std::string& p = **password;
    if (p.empty() || (p[0] != '!' && p[0] != '*')) {
      return fail("has a usable password in /etc/shadow; it must stay locked");
    }
  }
  auto users = LocalUsers();
  if (users.ok()) {
    for (const LocalAccount& other : *users) {
      if (other.id == u.uid && other.name != u.name) {
        return fail("shares uid " + std::to_string(u.uid) + " with user " + other.name);
      }
    }
  }
  return OkStatus();
}

Status UserStep::Undo(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  if (!before->existed) {
    auto user = LookupUser(name_);
    if (!user.ok()) return user.error();
    if (user->has_value()) {
      Status del = RunShadowTool({kUserDel, name_});
      if (!del.ok()) {
        std::vector<std::string> procs = ProcessesOfUid((*user)->uid);
        if (!procs.empty()) {
          std::string list;
          for (size_t i = 0; i < procs.size() && i < 10; ++i) {
            list += (i ? ", " : "") + procs[i];
          }
          if (procs.size() > 10) list += ", ...";
          return Error(ErrorCode::kPermissionDenied,
                       "cannot remove user " + name_ + ": it still runs " +
                           std::to_string(procs.size()) + " process(es) [" + list +
                           "]; stop them (e.g. end the sandboxed commands) and retry (" +
                           del.error().context() + ")");
        }
        return del.error().Wrap("remove user " + name_);
      }
    }
  }
  return RestoreBackupsIfMainUnchanged(before->accounts);
}

Status UserStep::VerifyUndone(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto user = LookupUser(name_);
  if (!user.ok()) return user.error();
  if (user->has_value() != before->existed) {
    return Error(ErrorCode::kVerificationFailed,
                 "user " + name_ + (before->existed ? " no longer exists" : " still exists") +
                     " (getpwnam)");
  }
  return VerifyAccountFilesRestored(before->accounts, "user " + name_);
}

}  // namespace stockade::provision::linux_os
