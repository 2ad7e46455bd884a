#include "runner/win/token.h"

#include <algorithm>
#include <cstdint>

#include "provision/win/security.h"
#include "provision/win/win_util.h"
#include "runner/win/wine.h"

namespace stockade::runner::win_os {

namespace pw = stockade::provision::win;

namespace {

// GetTokenInformation into an 8-byte aligned buffer sized by a first call.
Expected<std::vector<std::uint64_t>> QueryToken(HANDLE token, TOKEN_INFORMATION_CLASS cls,
                                                const char* what) {
  DWORD size = 0;
  GetTokenInformation(token, cls, nullptr, 0, &size);
  if (size == 0) return pw::LastWin32Error(std::string("GetTokenInformation(") + what + ")");
  std::vector<std::uint64_t> buffer((size + 7) / 8);
  if (!GetTokenInformation(token, cls, buffer.data(), static_cast<DWORD>(buffer.size() * 8),
                           &size)) {
    return pw::LastWin32Error(std::string("GetTokenInformation(") + what + ")");
  }
  return buffer;
}

Expected<std::vector<Sid>> GroupSids(const TOKEN_GROUPS* groups, DWORD required_attributes) {
  std::vector<Sid> sids;
  for (DWORD i = 0; i < groups->GroupCount; ++i) {
    if ((groups->Groups[i].Attributes & required_attributes) != required_attributes) continue;
    auto sid = Sid::FromPsid(groups->Groups[i].Sid);
    if (!sid.ok()) return sid.error();
    sids.push_back(std::move(*sid));
  }
  return sids;
}

std::string SidList(const std::vector<Sid>& sids) {
  std::string out;
  for (const auto& sid : sids) out += (out.empty() ? "" : ", ") + sid.ToString();
  return out.empty() ? "none" : out;
}

Status SetDefaultDacl(HANDLE token, const std::vector<Sid>& principals) {
  std::vector<pw::Ace> aces;
  for (const auto& sid : principals) {
    auto ace = pw::MakeAce(ACCESS_ALLOWED_ACE_TYPE, 0, GENERIC_ALL, sid);
    if (!ace.ok()) return ace.error();
    aces.push_back(std::move(*ace));
  }
  auto acl = pw::AclBuffer::Build(aces);
  if (!acl.ok()) return acl.error();
  TOKEN_DEFAULT_DACL dacl{acl->get()};
  if (!SetTokenInformation(token, TokenDefaultDacl, &dacl, sizeof dacl)) {
    return pw::LastWin32Error("SetTokenInformation(TokenDefaultDacl)");
  }
  auto back = QueryToken(token, TokenDefaultDacl, "TokenDefaultDacl");
  if (!back.ok()) return back.error();
  const auto* read = reinterpret_cast<const TOKEN_DEFAULT_DACL*>(back->data());
  auto read_aces = pw::ReadAces(read->DefaultDacl);
  if (!read_aces.ok()) return read_aces.error();
  for (const auto& sid : principals) {
    if (!pw::HasAce(*read_aces, ACCESS_ALLOWED_ACE_TYPE, 0, GENERIC_ALL, sid.ToString(), false)) {
      return Error(ErrorCode::kVerificationFailed,
                   "restricted token: the default DACL read back without " + sid.ToString() + " (" +
                       pw::AcesToString(*read_aces) + ")");
    }
  }
  return OkStatus();
}

}  // namespace

Expected<UniqueHandle> OpenOwnToken() {
  UniqueHandle token;
  if (!OpenProcessToken(GetCurrentProcess(),
                        TOKEN_DUPLICATE | TOKEN_QUERY | TOKEN_ASSIGN_PRIMARY |
                            TOKEN_ADJUST_DEFAULT | TOKEN_ADJUST_SESSIONID,
                        token.put())) {
    return pw::LastWin32Error("OpenProcessToken(own process)");
  }
  return token;
}

Expected<Sid> TokenUserSid(HANDLE token) {
  auto buffer = QueryToken(token, TokenUser, "TokenUser");
  if (!buffer.ok()) return buffer.error();
  return Sid::FromPsid(reinterpret_cast<const TOKEN_USER*>(buffer->data())->User.Sid);
}

Expected<Sid> TokenLogonSid(HANDLE token) {
  auto buffer = QueryToken(token, TokenGroups, "TokenGroups");
  if (!buffer.ok()) return buffer.error();
  auto sids = GroupSids(reinterpret_cast<const TOKEN_GROUPS*>(buffer->data()), SE_GROUP_LOGON_ID);
  if (!sids.ok()) return sids.error();
  if (sids->empty()) {
    return Error(ErrorCode::kNotFound,
                 "the token has no logon SID (no group with SE_GROUP_LOGON_ID)");
  }
  return std::move(sids->front());
}

Expected<std::vector<Sid>> TokenRestrictingSids(HANDLE token) {
  auto buffer = QueryToken(token, TokenRestrictedSids, "TokenRestrictedSids");
  if (!buffer.ok()) {
    // An unrestricted token may answer with an empty list or with nothing at all.
    if (buffer.error().os_error() == ERROR_INSUFFICIENT_BUFFER ||
        buffer.error().os_error() == ERROR_SUCCESS) {
      return std::vector<Sid>{};
    }
    // Wine: ERROR_INVALID_FUNCTION (the class is not implemented).
    if (buffer.error().os_error() == ERROR_INVALID_FUNCTION ||
        buffer.error().os_error() == ERROR_NOT_SUPPORTED) {
      return Error(ErrorCode::kUnsupported, buffer.error().context(), OsErrorKind::kWin32,
                   buffer.error().os_error());
    }
    return buffer.error();
  }
  return GroupSids(reinterpret_cast<const TOKEN_GROUPS*>(buffer->data()), 0);
}

Expected<std::vector<std::string>> TokenPrivilegeNames(HANDLE token) {
  auto buffer = QueryToken(token, TokenPrivileges, "TokenPrivileges");
  if (!buffer.ok()) return buffer.error();
  const auto* privileges = reinterpret_cast<const TOKEN_PRIVILEGES*>(buffer->data());
  std::vector<std::string> names;
  for (DWORD i = 0; i < privileges->PrivilegeCount; ++i) {
    LUID luid = privileges->Privileges[i].Luid;
    wchar_t name[128];
    DWORD length = 128;
    if (!LookupPrivilegeNameW(nullptr, &luid, name, &length)) {
      return pw::LastWin32Error("LookupPrivilegeNameW");
    }
    names.push_back(pw::Utf8(std::wstring_view(name, length)));
  }
  return names;
}

Expected<RestrictedToken> MakeWriteRestrictedToken(HANDLE base, const std::vector<Sid>& restricting,
                                                   std::optional<DWORD> session_id,
                                                   TokenCheck check) {
  if (restricting.empty()) {
    return Error(ErrorCode::kInvalidArgument, "restricted token: no restricting SID given");
  }
  // Best effort exists for Wine alone: anywhere else the flag changes nothing.
  const bool best_effort = check == TokenCheck::kWineSelftestBestEffort && RunningUnderWine();
  std::vector<std::string> unverified;
  // A read-back that failed: refused (strict) or noted (best effort under Wine).
  auto fail = [&](Error error) -> std::optional<Error> {
    if (!best_effort) return error;
    unverified.push_back(error.context());
    return std::nullopt;
  };

  std::vector<SID_AND_ATTRIBUTES> entries;
  for (const auto& sid : restricting) entries.push_back({sid.get(), 0});
  UniqueHandle token;
  if (!CreateRestrictedToken(base, kRestrictedTokenFlags, 0, nullptr, 0, nullptr,
                             static_cast<DWORD>(entries.size()), entries.data(), token.put())) {
    return pw::LastWin32Error("CreateRestrictedToken(" + SidList(restricting) + ")");
  }

  // Read back: a token that is not restricted to exactly these SIDs is no sandbox.
  auto read = TokenRestrictingSids(token.get());
  if (!read.ok()) {
    if (read.error().code() != ErrorCode::kUnsupported) return read.error();
    if (auto e = fail(Error(ErrorCode::kVerificationFailed,
                            "CreateRestrictedToken(" + SidList(restricting) +
                                "): the restricting SIDs cannot be read back (" +
                                read.error().ToString() +
                                "); the OS does not support write-restricted tokens",
                            read.error().os_kind(), read.error().os_error()))) {
      return *e;
    }
  } else {
    for (const auto& sid : restricting) {
      if (std::find(read->begin(), read->end(), sid) != read->end()) continue;
      if (auto e = fail(Error(ErrorCode::kVerificationFailed,
                              "CreateRestrictedToken returned a token whose restricting SIDs read "
                              "back as " +
                                  SidList(*read) + " instead of " + SidList(restricting) +
                                  " (the OS does not support write-restricted tokens)"))) {
        return *e;
      }
      break;
    }
  }
  if (!IsTokenRestricted(token.get())) {
    if (auto e = fail(Error(ErrorCode::kVerificationFailed,
                            "CreateRestrictedToken returned a token that IsTokenRestricted says "
                            "is not"))) {
      return *e;
    }
  }
  auto privileges = TokenPrivilegeNames(token.get());
  if (!privileges.ok()) return privileges.error();
  for (const auto& name : *privileges) {
    if (name == "SeChangeNotifyPrivilege") continue;
    if (auto e = fail(Error(ErrorCode::kVerificationFailed,
                            "restricted token still holds " + name + " (DISABLE_MAX_PRIVILEGE)"))) {
      return *e;
    }
    break;  // one is enough to say the privileges were not dropped
  }

  auto user = TokenUserSid(token.get());
  if (!user.ok()) return user.error();
  auto system = Sid::WellKnown(WinLocalSystemSid);
  if (!system.ok()) return system.error();
  std::vector<Sid> principals = {*user, *system};
  for (const auto& sid : restricting) principals.push_back(sid);
  if (Status dacl = SetDefaultDacl(token.get(), principals); !dacl.ok()) {
    if (dacl.error().code() != ErrorCode::kVerificationFailed) return dacl.error();
    if (auto e = fail(dacl.error())) return *e;
  }

  if (session_id.has_value()) {
    DWORD id = *session_id;
    if (!SetTokenInformation(token.get(), TokenSessionId, &id, sizeof id)) {
      return pw::LastWin32Error("SetTokenInformation(TokenSessionId " + std::to_string(id) + ")");
    }
    DWORD back = 0;
    DWORD size = 0;
    if (!GetTokenInformation(token.get(), TokenSessionId, &back, sizeof back, &size)) {
      return pw::LastWin32Error("GetTokenInformation(TokenSessionId)");
    }
    if (back != id) {
      return Error(ErrorCode::kVerificationFailed, "restricted token: session id read back as " +
                                                       std::to_string(back) + ", asked " +
                                                       std::to_string(id));
    }
  }
  return RestrictedToken{std::move(token), restricting, std::move(unverified)};
}

}  // namespace stockade::runner::win_os
