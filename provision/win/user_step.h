// kind::kUser on Windows: one sandbox identity ("<prefix>-offline" / "<prefix>-online").
//
// params:  {"name": "<prefix>-offline", "group": "<prefix>-users",
//           "identity": "offline"|"online" (optional, for the comment),
//           "comment": "..." (optional), "hidden": true (optional, default true)}
// before:  {"existed": bool, "member": bool, "hidden": <registry snapshot or null>}
// Apply:   NetUserAdd (level 1, USER_PRIV_USER, UF_SCRIPT | UF_NORMAL_ACCOUNT |
//          UF_DONT_EXPIRE_PASSWD | UF_PASSWD_CANT_CHANGE) with a throw-away CSPRNG password
//          (kind::kCredentials sets the password that is kept), NetLocalGroupAddMembers into the
//          group, and HKLM\...\Winlogon\SpecialAccounts\UserList\<name> = DWORD 0 so that the
//          account is not offered on the logon screen.
// Check:   NetUserGetInfo reports the user; LSA resolves it to a user SID of this machine
//          (LookupAccountNameW); it is a plain user (not an administrator) with the flags above;
//          NetLocalGroupGetMembers lists its SID in the group; the UserList value is DWORD 0.
//          Under Wine NetUserAdd "succeeds" but the user exists only inside the calling process
//          and LSA cannot resolve it: Verify fails with kVerificationFailed.
// Undo:    when it did not exist before: its profile (if it ever logged on) and the account are
//          deleted; otherwise the group membership is put back as it was. The UserList value and
//          the keys leading to it are restored exactly (registry.h).
#ifndef STOCKADE_PROVISION_WIN_USER_STEP_H_
#define STOCKADE_PROVISION_WIN_USER_STEP_H_

#include <memory>
#include <string>

#include "provision/win/checked_step.h"

namespace stockade::provision::win {

// Where Windows looks for accounts to hide from the logon screen.
inline constexpr char kHiddenUsersKey[] =
    "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\SpecialAccounts\\UserList";

// The length of the throw-away password NetUserAdd gets (and of the kept one, credentials).
inline constexpr std::size_t kSandboxPasswordLength = 32;

class UserStep : public CheckedStep {
 public:
  // Errors: kInvalidArgument for missing or malformed params (a name over 20 characters, ...).
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // A user of that name per the NetApi or any account of that name per LSA.
  Expected<bool> TargetPresent() override;
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  UserStep(const StepSpec& spec, std::string name, std::string group, std::string comment,
           bool hidden)
      : CheckedStep(spec),
        name_(std::move(name)),
        group_(std::move(group)),
        comment_(std::move(comment)),
        hidden_(hidden) {}
  // True when the group lists `name_`'s SID; false when the user or the group does not exist.
  Expected<bool> IsMember();

  std::string name_;
  std::string group_;
  std::string comment_;
  bool hidden_;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_USER_STEP_H_
