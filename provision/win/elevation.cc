#include "provision/elevation.h"

#include <windows.h>

namespace stockade::provision {

Status RequireElevation() {
  // CheckTokenMembership on the effective token: with UAC, a filtered admin token has the
  // Administrators SID only as deny-only, so this is false until the process is elevated.
  SID_IDENTIFIER_AUTHORITY nt_authority = SECURITY_NT_AUTHORITY;
  PSID admins = nullptr;
  if (!AllocateAndInitializeSid(&nt_authority, 2, SECURITY_BUILTIN_DOMAIN_RID,
                                DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0, &admins)) {
    return Error(ErrorCode::kOs, "AllocateAndInitializeSid(Administrators)", OsErrorKind::kWin32,
                 static_cast<std::int64_t>(GetLastError()));
  }
  BOOL member = FALSE;
  const BOOL ok = CheckTokenMembership(nullptr, admins, &member);
  const DWORD err = GetLastError();
  FreeSid(admins);
  if (!ok) {
    return Error(ErrorCode::kOs, "CheckTokenMembership(Administrators)", OsErrorKind::kWin32,
                 static_cast<std::int64_t>(err));
  }
  if (!member) {
    return Error(ErrorCode::kNotElevated,
                 "stockade-provision needs an elevated administrator token; run it from an "
                 "elevated prompt (Run as administrator)");
  }
  return Status();
}

}  // namespace stockade::provision
