// The OS pieces the store needs, implemented in audit/linux/platform.cc and
// audit/win/platform.cc: the host name and the protection of the store's files.
#ifndef STOCKADE_AUDIT_PLATFORM_H_
#define STOCKADE_AUDIT_PLATFORM_H_

#include <string>

#include "core/error.h"

namespace stockade::audit::platform {

// This machine's host name (UTF-8): gethostname() on Linux, the DNS host name from
// GetComputerNameExW on Windows. "unknown" if the OS cannot say.
std::string LocalHostName();

// What a store file or folder is protected as; see docs/audit-events.md ("Permissions").
enum class Protect { kDirectory, kWritableFile, kReadOnlyFile };

// Restricts `path` so that only the service's account can write it and no one but that
// account (and, on Windows, Administrators) can read it:
//   Linux   owner = the calling uid (root for the service); folders 0700, the live store files
//           0600, sealed archives 0400; then stat() read back and compared.
//   Windows a protected DACL: SYSTEM and Administrators (full control, read-only for sealed
//           archives), nobody else; then the DACL read back and compared.
// Errors: kPermissionDenied / kOs from the calls; kVerificationFailed when the read-back
// differs from what was set.
Status ProtectPath(const std::string& path, Protect kind);

}  // namespace stockade::audit::platform

#endif  // STOCKADE_AUDIT_PLATFORM_H_
