#include "provision/win/accounts.h"

#include <lm.h>
#include <userenv.h>

#include "provision/win/registry.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

constexpr char kProfileList[] = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList";

bool IsUserMissing(NET_API_STATUS rc) {
  return rc == NERR_UserNotFound || rc == ERROR_NO_SUCH_USER;
}
bool IsGroupMissing(NET_API_STATUS rc) {
  return rc == NERR_GroupNotFound || rc == ERROR_NO_SUCH_ALIAS || rc == ERROR_NO_SUCH_GROUP;
}

Expected<std::wstring> QualifiedName(const std::string& name) {
  auto computer = ComputerName();
  if (!computer.ok()) return computer.error();
  return Wide(*computer + "\\" + name);
}

}  // namespace

Expected<std::optional<LocalUserInfo>> GetLocalUser(const std::string& name) {
  BYTE* raw = nullptr;
  const NET_API_STATUS rc = NetUserGetInfo(nullptr, Wide(name).c_str(), 1, &raw);
  NetApiPtr<USER_INFO_1> info(reinterpret_cast<USER_INFO_1*>(raw));
  if (IsUserMissing(rc)) return std::optional<LocalUserInfo>();
  if (rc != NERR_Success) return Win32Error("NetUserGetInfo(" + name + ", level 1)", rc);
  LocalUserInfo out;
  out.name = Utf8(info->usri1_name);
  out.flags = info->usri1_flags;
  out.privilege = info->usri1_priv;
  out.comment = Utf8(info->usri1_comment);
  return std::optional<LocalUserInfo>(std::move(out));
}

Status AddLocalUser(const std::string& name, const SecretString& password,
                    const std::string& comment, DWORD flags) {
  std::wstring wname = Wide(name);
  std::wstring wcomment = Wide(comment);
  SecretWString wpassword(Wide(password.value()));
  USER_INFO_1 info{};
  info.usri1_name = wname.data();
  info.usri1_password = wpassword.data();
  info.usri1_priv = USER_PRIV_USER;
  info.usri1_comment = wcomment.data();
  info.usri1_flags = flags;
  DWORD bad_member = 0;
  const NET_API_STATUS rc = NetUserAdd(nullptr, 1, reinterpret_cast<BYTE*>(&info), &bad_member);
  if (rc != NERR_Success) return Win32Error("NetUserAdd(" + name + ", level 1)", rc);
  return OkStatus();
}

Status SetLocalUserPassword(const std::string& name, const SecretString& password) {
  STOCKADE_RETURN_IF_ERROR(RefuseWineUnimplemented("NetUserSetInfo", name + ", level 1003"));
  SecretWString wpassword(Wide(password.value()));
  USER_INFO_1003 info{wpassword.data()};
  DWORD bad_member = 0;
  const NET_API_STATUS rc = NetUserSetInfo(nullptr, Wide(name).c_str(), 1003,
                                           reinterpret_cast<BYTE*>(&info), &bad_member);
  if (rc != NERR_Success) return Win32Error("NetUserSetInfo(" + name + ", level 1003)", rc);
  return OkStatus();
}

Status DeleteLocalUser(const std::string& name) {
  const NET_API_STATUS rc = NetUserDel(nullptr, Wide(name).c_str());
  if (rc != NERR_Success && !IsUserMissing(rc)) return Win32Error("NetUserDel(" + name + ")", rc);
  return OkStatus();
}

Expected<bool> NetLocalGroupReported(const std::string& name) {
  BYTE* raw = nullptr;
  const NET_API_STATUS rc = NetLocalGroupGetInfo(nullptr, Wide(name).c_str(), 1, &raw);
  NetApiPtr<void> info(raw);
  if (IsGroupMissing(rc)) return false;
  if (rc != NERR_Success) return Win32Error("NetLocalGroupGetInfo(" + name + ", level 1)", rc);
  return true;
}

Status AddLocalGroup(const std::string& name, const std::string& comment) {
  std::wstring wname = Wide(name);
  std::wstring wcomment = Wide(comment);
  LOCALGROUP_INFO_1 info{wname.data(), wcomment.data()};
  DWORD bad_member = 0;
  const NET_API_STATUS rc =
      NetLocalGroupAdd(nullptr, 1, reinterpret_cast<BYTE*>(&info), &bad_member);
  if (rc != NERR_Success) return Win32Error("NetLocalGroupAdd(" + name + ", level 1)", rc);
  return OkStatus();
}

Status DeleteLocalGroup(const std::string& name) {
  const NET_API_STATUS rc = NetLocalGroupDel(nullptr, Wide(name).c_str());
  if (rc != NERR_Success && !IsGroupMissing(rc)) {
    return Win32Error("NetLocalGroupDel(" + name + ")", rc);
  }
  return OkStatus();
}

Expected<std::vector<Sid>> LocalGroupMembers(const std::string& group) {
  std::vector<Sid> members;
  DWORD_PTR resume = 0;
  NET_API_STATUS rc = ERROR_MORE_DATA;
  while (rc == ERROR_MORE_DATA) {
    BYTE* raw = nullptr;
    DWORD read = 0;
    DWORD total = 0;
    rc = NetLocalGroupGetMembers(nullptr, Wide(group).c_str(), 0, &raw, MAX_PREFERRED_LENGTH, &read,
                                 &total, &resume);
    NetApiPtr<LOCALGROUP_MEMBERS_INFO_0> entries(reinterpret_cast<LOCALGROUP_MEMBERS_INFO_0*>(raw));
    if (rc != NERR_Success && rc != ERROR_MORE_DATA) {
      return Win32Error("NetLocalGroupGetMembers(" + group + ", level 0)", rc);
    }
    for (DWORD i = 0; i < read; ++i) {
      auto sid = Sid::FromPsid(entries.get()[i].lgrmi0_sid);
      if (!sid.ok()) return sid.error().Wrap("NetLocalGroupGetMembers(" + group + ")");
      members.push_back(std::move(*sid));
    }
  }
  return members;
}

Status AddLocalGroupMember(const std::string& group, const std::string& member) {
  auto qualified = QualifiedName(member);
  if (!qualified.ok()) return qualified.error();
  LOCALGROUP_MEMBERS_INFO_3 info{qualified->data()};
  const NET_API_STATUS rc =
      NetLocalGroupAddMembers(nullptr, Wide(group).c_str(), 3, reinterpret_cast<BYTE*>(&info), 1);
  if (rc != NERR_Success && rc != ERROR_MEMBER_IN_ALIAS) {
    return Win32Error("NetLocalGroupAddMembers(" + group + ", " + member + ")", rc);
  }
  return OkStatus();
}

Status RemoveLocalGroupMember(const std::string& group, const std::string& member) {
  auto qualified = QualifiedName(member);
  if (!qualified.ok()) return qualified.error();
  LOCALGROUP_MEMBERS_INFO_3 info{qualified->data()};
  const NET_API_STATUS rc =
      NetLocalGroupDelMembers(nullptr, Wide(group).c_str(), 3, reinterpret_cast<BYTE*>(&info), 1);
  if (rc != NERR_Success && rc != ERROR_MEMBER_NOT_IN_ALIAS && rc != ERROR_NO_SUCH_MEMBER &&
      !IsGroupMissing(rc)) {
    return Win32Error("NetLocalGroupDelMembers(" + group + ", " + member + ")", rc);
  }
  return OkStatus();
}

Expected<std::vector<std::string>> ListLocalUsers() {
  std::vector<std::string> names;
  DWORD resume = 0;
  NET_API_STATUS rc = ERROR_MORE_DATA;
  while (rc == ERROR_MORE_DATA) {
    BYTE* raw = nullptr;
    DWORD read = 0;
    DWORD total = 0;
    rc = NetUserEnum(nullptr, 0, FILTER_NORMAL_ACCOUNT, &raw, MAX_PREFERRED_LENGTH, &read, &total,
                     &resume);
    NetApiPtr<USER_INFO_0> entries(reinterpret_cast<USER_INFO_0*>(raw));
    if (rc != NERR_Success && rc != ERROR_MORE_DATA) return Win32Error("NetUserEnum", rc);
    for (DWORD i = 0; i < read; ++i) names.push_back(Utf8(entries.get()[i].usri0_name));
  }
  return names;
}

Expected<std::vector<std::string>> ListLocalGroups() {
  std::vector<std::string> names;
  DWORD_PTR resume = 0;
  NET_API_STATUS rc = ERROR_MORE_DATA;
  while (rc == ERROR_MORE_DATA) {
    BYTE* raw = nullptr;
    DWORD read = 0;
    DWORD total = 0;
    rc = NetLocalGroupEnum(nullptr, 0, &raw, MAX_PREFERRED_LENGTH, &read, &total, &resume);
    NetApiPtr<LOCALGROUP_INFO_0> entries(reinterpret_cast<LOCALGROUP_INFO_0*>(raw));
    if (rc != NERR_Success && rc != ERROR_MORE_DATA) return Win32Error("NetLocalGroupEnum", rc);
    for (DWORD i = 0; i < read; ++i) names.push_back(Utf8(entries.get()[i].lgrpi0_name));
  }
  return names;
}

Expected<std::optional<std::string>> ProfilePathOf(const Sid& sid) {
  auto value = ReadRegValue(std::string(kProfileList) + "\\" + sid.ToString(), "ProfileImagePath");
  if (!value.ok()) return value.error();
  if (!value->has_value()) return std::optional<std::string>();
  auto text = RegValueText(**value);
  if (!text.has_value()) return std::optional<std::string>(std::string());
  wchar_t expanded[MAX_PATH * 2];
  const DWORD n = ExpandEnvironmentStringsW(Wide(*text).c_str(), expanded, MAX_PATH * 2);
  if (n == 0 || n > MAX_PATH * 2) return std::optional<std::string>(*text);
  return std::optional<std::string>(Utf8(expanded));
}

Status DeleteProfileIfPresent(const Sid& sid) {
  auto profile = ProfilePathOf(sid);
  if (!profile.ok()) return profile.error();
  if (!profile->has_value()) return OkStatus();
  const std::string text = sid.ToString();
  STOCKADE_RETURN_IF_ERROR(RefuseWineUnimplemented("DeleteProfileW", text));
  if (!DeleteProfileW(Wide(text).c_str(), nullptr, nullptr)) {
    const DWORD err = GetLastError();
    if (err != ERROR_FILE_NOT_FOUND && err != ERROR_PATH_NOT_FOUND) {
      return Win32Error("DeleteProfileW(" + text + ", " + **profile + ")", err);
    }
  }
  return OkStatus();
}

}  // namespace stockade::provision::win
