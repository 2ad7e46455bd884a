// The write-restricted primary token a tree runs with.
//
// CreateRestrictedToken(WRITE_RESTRICTED | DISABLE_MAX_PRIVILEGE | LUA_TOKEN) with restricting
// SIDs = the write SID + the logon SID: every access check that asks for a write right passes
// only when both the token's normal SIDs *and* one of the restricting SIDs are granted it. Files
// grant the write SID only on workspaces (provision/win/workspace_grant_step.h), so the tree can
// write there and nowhere else; the logon SID keeps the objects of its own logon session (its
// console, its window station) writable. Not Everyone: that would let every Everyone-writable
// object through. Reads are not restricted (WRITE_RESTRICTED), privileges are all dropped except
// SeChangeNotifyPrivilege (DISABLE_MAX_PRIVILEGE), and the token is a filtered, non-elevated one
// (LUA_TOKEN).
//
// Under Wine CreateRestrictedToken succeeds but silently drops the restricting SIDs
// (PLATFORM-NOTES.md): MakeWriteRestrictedToken reads them back and fails with
// kVerificationFailed rather than launching an unrestricted tree.
#ifndef STOCKADE_RUNNER_WIN_TOKEN_H_
#define STOCKADE_RUNNER_WIN_TOKEN_H_

#include <windows.h>

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/win/handles.h"
#include "provision/win/sid.h"

namespace stockade::runner::win_os {

using provision::win::Sid;
using provision::win::UniqueHandle;

// The flags passed to CreateRestrictedToken.
inline constexpr DWORD kRestrictedTokenFlags = WRITE_RESTRICTED | DISABLE_MAX_PRIVILEGE | LUA_TOKEN;

// This process's primary token, with the rights CreateRestrictedToken and CreateProcessAsUserW
// need (duplicate, query, assign primary, adjust default DACL and session).
// Errors: kOs naming OpenProcessToken.
Expected<UniqueHandle> OpenOwnToken();

// The token's user SID (TokenUser). Errors: kOs naming GetTokenInformation.
Expected<Sid> TokenUserSid(HANDLE token);

// The logon SID (the group with SE_GROUP_LOGON_ID, "S-1-5-5-x-y") of the token's logon session.
// Errors: kNotFound when the token has none (a service's own token may not), kOs.
Expected<Sid> TokenLogonSid(HANDLE token);

// The token's restricting SIDs (TokenRestrictedSids), in order; empty for an unrestricted token.
// Errors: kUnsupported when the OS cannot answer (Wine: ERROR_INVALID_FUNCTION); kOs.
Expected<std::vector<Sid>> TokenRestrictingSids(HANDLE token);

// The privileges still present in the token, by name ("SeChangeNotifyPrivilege", ...).
Expected<std::vector<std::string>> TokenPrivilegeNames(HANDLE token);

// What a restricted token was made with, for the read-back.
struct RestrictedToken {
  UniqueHandle token;
  std::vector<Sid> restricting_sids;
  // Empty: every property below was read back as asked. Otherwise (only ever under Wine, and
  // only when the caller passed TokenCheck::kWineSelftestBestEffort) what could not be verified,
  // one sentence each: the token must then be presented as unverified to whoever sees results.
  std::vector<std::string> unverified;
};

// How strictly MakeWriteRestrictedToken treats a read-back it cannot complete.
enum class TokenCheck {
  // Every read-back must succeed and match, or the token is refused (kVerificationFailed).
  // `stockade run`, the service and everything else use this.
  kStrict,
  // Under Wine only (RunningUnderWine(), wine.h): read-backs that fail or mismatch are listed in
  // RestrictedToken::unverified instead of refusing the token, so that the selftest can run its
  // probes and report what Wine lets through. Anywhere else this is exactly kStrict.
  kWineSelftestBestEffort,
};

// CreateRestrictedToken(base, kRestrictedTokenFlags, restricting = `restricting`), then:
//  - read back: IsTokenRestricted and TokenRestrictedSids must hold every SID asked for, and
//    no privilege but SeChangeNotifyPrivilege may be left;
//  - the default DACL (what the tree's own new objects get: its pipes, events, temp files when
//    no folder ACL applies) is set to full access for the token's user, SYSTEM and each
//    restricting SID, so that the restricted half of the access check passes for the tree's own
//    objects (with the user's default DACL alone every write to them would fail);
//  - the session id is set when `session_id` is given (needs SeTcbPrivilege: the service).
// Errors: kInvalidArgument for an empty `restricting`; kOs naming the API; kVerificationFailed
// naming what read back wrong or could not be read back (Wine drops the restricting SIDs and
// cannot report TokenRestrictedSids at all). With `check` = kWineSelftestBestEffort under Wine,
// the read-back failures are listed in `unverified` instead (the API errors are still errors).
Expected<RestrictedToken> MakeWriteRestrictedToken(HANDLE base, const std::vector<Sid>& restricting,
                                                   std::optional<DWORD> session_id = std::nullopt,
                                                   TokenCheck check = TokenCheck::kStrict);

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_TOKEN_H_
