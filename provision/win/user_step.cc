#include "provision/win/user_step.h"

#include <windows.h>
// windows.h first: lm.h relies on its types.
#include <lm.h>

#include <cstdio>
#include <cstring>

#include "core/crypto/random.h"
#include "core/log/logging.h"
#include "provision/win/accounts.h"
#include "provision/win/group_step.h"
#include "provision/win/params.h"
#include "provision/win/registry.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

constexpr DWORD kUserFlags =
    UF_SCRIPT | UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD | UF_PASSWD_CANT_CHANGE;
// Flags whose presence is checked (UF_SCRIPT is reported inconsistently by NetUserGetInfo).
constexpr DWORD kRequiredFlags = UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD | UF_PASSWD_CANT_CHANGE;

std::string Hex(DWORD value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%lx", static_cast<unsigned long>(value));
  return text;
}

bool ContainsSid(const std::vector<Sid>& sids, const Sid& sid) {
  for (const Sid& s : sids) {
    if (s == sid) return true;
  }
  return false;
}

}  // namespace

Expected<std::unique_ptr<Step>> UserStep::Create(const StepSpec& spec) {
  auto reader = JsonReader::Params(spec);
  auto name = reader.String("name");
  if (!name.ok()) return name.error();
  // SAM account names of users are limited to 20 characters.
  STOCKADE_RETURN_IF_ERROR(CheckAccountName(*name, 20, "user name"));
  auto group = reader.String("group");
  if (!group.ok()) return group.error();
  STOCKADE_RETURN_IF_ERROR(CheckAccountName(*group, 256, "group name"));
  auto identity = reader.StringOr("identity", "");
  if (!identity.ok()) return identity.error();
  const std::string default_comment =
      "Stockade sandbox identity" + (identity->empty() ? std::string() : " (" + *identity + ")");
  auto comment = reader.StringOr("comment", default_comment);
  if (!comment.ok()) return comment.error();
  auto hidden = reader.BoolOr("hidden", true);
  if (!hidden.ok()) return hidden.error();
  return std::unique_ptr<Step>(new UserStep(spec, *name, *group, *comment, *hidden));
}

std::string UserStep::Describe() const {
  return "create local user " + name_ + " in group " + group_ +
         (hidden_ ? ", hidden from the logon screen" : "");
}

Expected<bool> UserStep::IsMember() {
  auto found = LookupLocalAccount(name_);
  if (!found.ok()) return found.error();
  if (!found->has_value()) return false;
  auto members = LocalGroupMembers(group_);
  if (!members.ok()) {
    if (members.error().code() == ErrorCode::kNotFound) return false;
    return members.error();
  }
  return ContainsSid(*members, (*found)->sid);
}

Expected<nlohmann::json> UserStep::CaptureBefore() {
  auto present = TargetPresent();
  if (!present.ok()) return present.error();
  nlohmann::json before{{"existed", *present}, {"member", false}, {"hidden", nullptr}};
  if (*present) {
    auto found = LookupLocalAccount(name_);
    if (!found.ok()) return found.error();
    if (found->has_value() && (*found)->use != SidTypeUser) {
      return Error(ErrorCode::kAlreadyExists,
                   "local user " + name_ + ": the name belongs to a " + SidUseName((*found)->use));
    }
    auto member = IsMember();
    if (!member.ok()) return member.error();
    before["member"] = *member;
  }
  if (hidden_) {
    auto snapshot = CaptureRegValue(kHiddenUsersKey, name_);
    if (!snapshot.ok()) return snapshot.error();
    before["hidden"] = snapshot->ToJson();
  }
  return before;
}

Expected<bool> UserStep::TargetPresent() {
  auto user = GetLocalUser(name_);
  if (!user.ok()) return user.error();
  if (user->has_value()) return true;
  auto found = LookupLocalAccount(name_);
  if (!found.ok()) return found.error();
  return found->has_value();
}

Status UserStep::Apply() {
  auto user = GetLocalUser(name_);
  if (!user.ok()) return user.error();
  if (!user->has_value()) {
    // A password nobody learns: the account must never be usable before kind::kCredentials
    // has set (and stored) the one the runner logs on with.
    auto password = crypto::RandomPassword(kSandboxPasswordLength);
    if (!password.ok()) return password.error().Wrap("local user " + name_);
    SecretString secret(std::move(*password));
    Status added = AddLocalUser(name_, secret, comment_, kUserFlags);
    if (!added.ok() && added.error().code() != ErrorCode::kAlreadyExists) return added;
    log::Logger()->info("local user {}: created (NetUserAdd)", name_);
  }
  STOCKADE_RETURN_IF_ERROR(AddLocalGroupMember(group_, name_));
  if (hidden_) STOCKADE_RETURN_IF_ERROR(WriteRegDword(kHiddenUsersKey, name_, 0));
  return OkStatus();
}

Expected<std::string> UserStep::Check() {
  auto user = GetLocalUser(name_);
  if (!user.ok()) return user.error();
  if (!user->has_value()) {
    return std::string("local user " + name_ +
                       " does not exist (NetUserGetInfo: " + Win32Message(NERR_UserNotFound) + ")");
  }
  auto found = LookupLocalAccount(name_);
  if (!found.ok()) return found.error();
  if (!found->has_value()) {
    return std::string("NetUserGetInfo reports local user " + name_ +
                       " but LookupAccountNameW maps no account to it: the account does not "
                       "exist for the rest of the system");
  }
  if ((*found)->use != SidTypeUser) {
    return std::string(name_ + " resolves to a " + SidUseName((*found)->use) + ", not a user");
  }
  const LocalUserInfo& info = **user;
  if (info.privilege != USER_PRIV_USER) {
    return std::string("local user " + name_ + " has privilege level " +
                       std::to_string(info.privilege) + ", expected USER_PRIV_USER (" +
                       std::to_string(USER_PRIV_USER) + ")");
  }
  if ((info.flags & kRequiredFlags) != kRequiredFlags || (info.flags & UF_ACCOUNTDISABLE) != 0) {
    return std::string("local user " + name_ + " has flags " + Hex(info.flags) + ", expected " +
                       Hex(kRequiredFlags) + " set and UF_ACCOUNTDISABLE clear");
  }
  auto members = LocalGroupMembers(group_);
  if (!members.ok()) {
    if (members.error().code() == ErrorCode::kNotFound) {
      return std::string("group " + group_ + " does not exist");
    }
    return members.error();
  }
  if (!ContainsSid(*members, (*found)->sid)) {
    return std::string("local user " + name_ + " (" + (*found)->sid.ToString() +
                       ") is not a member of " + group_ + " (NetLocalGroupGetMembers lists " +
                       std::to_string(members->size()) + " members)");
  }
  if (hidden_) {
    auto value = ReadRegValue(kHiddenUsersKey, name_);
    if (!value.ok()) return value.error();
    DWORD data = 1;
    if (!value->has_value() || (*value)->type != REG_DWORD ||
        (*value)->data.size() != sizeof data) {
      return std::string("HKLM\\" + std::string(kHiddenUsersKey) + "\\" + name_ +
                         " is not a DWORD: the account is shown on the logon screen");
    }
    std::memcpy(&data, (*value)->data.data(), sizeof data);
    if (data != 0) {
      return std::string("HKLM\\" + std::string(kHiddenUsersKey) + "\\" + name_ + " is " +
                         std::to_string(data) + ", expected 0");
    }
  }
  return std::string();
}

Status UserStep::Undo(const nlohmann::json& before) {
  auto reader = JsonReader::Before(spec(), before);
  auto existed = reader.Bool("existed");
  if (!existed.ok()) return existed.error();
  auto member = reader.Bool("member");
  if (!member.ok()) return member.error();
  if (!*existed) {
    auto found = LookupLocalAccount(name_);
    if (!found.ok()) return found.error();
    if (found->has_value() && (*found)->use == SidTypeUser) {
      // The profile first: once the account is gone its SID can no longer be looked up, and
      // C:\Users\<name> plus its ProfileList key would stay behind as an orphan.
      STOCKADE_RETURN_IF_ERROR(DeleteProfileIfPresent((*found)->sid));
    }
    STOCKADE_RETURN_IF_ERROR(DeleteLocalUser(name_));
    log::Logger()->info("local user {}: deleted (NetUserDel)", name_);
  } else if (!*member) {
    STOCKADE_RETURN_IF_ERROR(RemoveLocalGroupMember(group_, name_));
  }
  auto hidden = reader.Member("hidden");
  if (hidden.ok() && !hidden->is_null()) {
    auto snapshot = RegValueSnapshot::FromJson(*hidden);
    if (!snapshot.ok()) return snapshot.error().Wrap(spec().target);
    STOCKADE_RETURN_IF_ERROR(RestoreRegValue(*snapshot));
  }
  return OkStatus();
}

Expected<std::string> UserStep::CheckUndone(const nlohmann::json& before) {
  auto reader = JsonReader::Before(spec(), before);
  auto existed = reader.Bool("existed");
  if (!existed.ok()) return existed.error();
  auto member = reader.Bool("member");
  if (!member.ok()) return member.error();
  if (!*existed) {
    auto user = GetLocalUser(name_);
    if (!user.ok()) return user.error();
    if (user->has_value())
      return std::string("local user " + name_ + " still exists (NetUserGetInfo)");
    auto found = LookupLocalAccount(name_);
    if (!found.ok()) return found.error();
    if (found->has_value()) {
      return std::string("LookupAccountNameW still resolves " + name_ + " to " +
                         (*found)->sid.ToString());
    }
  } else {
    auto is_member = IsMember();
    if (!is_member.ok()) return is_member.error();
    if (*is_member != *member) {
      return std::string("local user " + name_ +
                         (*is_member ? " is a member of " + group_ + " but was not before"
                                     : " is no longer a member of " + group_ + " but was before"));
    }
  }
  auto hidden = reader.Member("hidden");
  if (hidden.ok() && !hidden->is_null()) {
    auto snapshot = RegValueSnapshot::FromJson(*hidden);
    if (!snapshot.ok()) return snapshot.error().Wrap(spec().target);
    auto difference = DescribeRegDifference(*snapshot);
    if (!difference.ok()) return difference.error();
    if (!difference->empty()) return *difference;
  }
  return std::string();
}

}  // namespace stockade::provision::win
