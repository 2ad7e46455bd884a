// Local users and local groups through the NetApi (netapi32), each call's failure named with the
// API, the account and the NetApi / Win32 error.
//
// Under Wine 8 these calls are stubs that report success without reaching the system's account
// database (PLATFORM-NOTES.md): NetUserAdd keeps the user inside the calling process,
// NetLocalGroupGetInfo reports any name as an existing group, NetLocalGroupAddMembers stores
// nothing, and NetUserSetInfo is not implemented at all. The steps therefore read every change
// back through LSA (LookupAccountNameW, sid.h), which Wine does not fake.
#ifndef STOCKADE_PROVISION_WIN_ACCOUNTS_H_
#define STOCKADE_PROVISION_WIN_ACCOUNTS_H_

#include <windows.h>

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/win/handles.h"
#include "provision/win/sid.h"

namespace stockade::provision::win {

struct LocalUserInfo {
  std::string name;
  DWORD flags = 0;      // UF_* (USER_INFO_1::usri1_flags)
  DWORD privilege = 0;  // USER_PRIV_GUEST / USER_PRIV_USER / USER_PRIV_ADMIN
  std::string comment;
};

// NetUserGetInfo(level 1). nullopt when the NetApi reports no such user.
Expected<std::optional<LocalUserInfo>> GetLocalUser(const std::string& name);

// NetUserAdd(level 1): a normal account with `flags` and privilege USER_PRIV_USER.
// kAlreadyExists when the user exists (NERR_UserExists).
Status AddLocalUser(const std::string& name, const SecretString& password,
                    const std::string& comment, DWORD flags);

// NetUserSetInfo(level 1003): sets the password. Refused under Wine (not implemented there:
// calling it aborts the process).
Status SetLocalUserPassword(const std::string& name, const SecretString& password);

// NetUserDel; OK when the user does not exist.
Status DeleteLocalUser(const std::string& name);

// NetLocalGroupGetInfo(level 1): true when the NetApi reports the group. Not to be trusted alone
// (see above): pair it with LookupLocalAccount.
Expected<bool> NetLocalGroupReported(const std::string& name);

// NetLocalGroupAdd(level 1). kAlreadyExists when the group exists.
Status AddLocalGroup(const std::string& name, const std::string& comment);

// NetLocalGroupDel; OK when the group does not exist.
Status DeleteLocalGroup(const std::string& name);

// NetLocalGroupGetMembers(level 0): the SIDs of the group's members.
// kNotFound when the group does not exist.
Expected<std::vector<Sid>> LocalGroupMembers(const std::string& group);

// NetLocalGroupAddMembers(level 3) with "<computer>\\<member>", so that a domain account of the
// same name is never the one added; OK when already a member.
Status AddLocalGroupMember(const std::string& group, const std::string& member);

// NetLocalGroupDelMembers(level 3), same naming; OK when not a member.
Status RemoveLocalGroupMember(const std::string& group, const std::string& member);

// NetUserEnum(FILTER_NORMAL_ACCOUNT) / NetLocalGroupEnum: every local user / group name.
Expected<std::vector<std::string>> ListLocalUsers();
Expected<std::vector<std::string>> ListLocalGroups();

// The profile folder Windows made for `sid` at its first logon
// (HKLM\...\ProfileList\<sid>\ProfileImagePath, expanded); nullopt when none is registered.
Expected<std::optional<std::string>> ProfilePathOf(const Sid& sid);

// DeleteProfileW for `sid` when a profile is registered (a sandbox user that ever logged on
// has one: C:\Users\<name> plus the ProfileList key, which outlive the account otherwise).
Status DeleteProfileIfPresent(const Sid& sid);

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_ACCOUNTS_H_
