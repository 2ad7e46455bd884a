// Windows: host name and the DACL of the store's files.
#include "audit/platform.h"

#include <aclapi.h>  // includes windows.h, which sddl.h needs
#include <sddl.h>
#include <windows.h>

#include <memory>
#include <string>

namespace stockade::audit::platform {

namespace {

std::wstring Wide(const std::string& utf8) {
  if (utf8.empty()) return {};
  const int n =
      MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n > 0 ? n : 0), L'\0');
  if (n > 0) {
    MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  }
  return out;
}

std::string Utf8(const wchar_t* wide, int length = -1) {
  const int n = WideCharToMultiByte(CP_UTF8, 0, wide, length, nullptr, 0, nullptr, nullptr);
  if (n <= 0) return {};
  std::string out(static_cast<std::size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide, length, out.data(), n, nullptr, nullptr);
  if (length == -1 && !out.empty()) out.pop_back();  // the terminating NUL
  return out;
}

struct LocalFreeDeleter {
  void operator()(void* p) const { LocalFree(p); }
};
using LocalPtr = std::unique_ptr<void, LocalFreeDeleter>;

// SYSTEM (the service) and Administrators only; inheritance from the parent blocked ("P"), so
// that an ACE granting Users or the sandbox group on a parent folder never reaches the store.
const wchar_t* SddlFor(Protect kind) {
  switch (kind) {
    case Protect::kDirectory:
      return L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
    case Protect::kWritableFile:
      return L"D:P(A;;FA;;;SY)(A;;FA;;;BA)";
    case Protect::kReadOnlyFile:
      return L"D:P(A;;FR;;;SY)(A;;FR;;;BA)";
  }
  return L"D:P(A;;FA;;;SY)(A;;FA;;;BA)";
}

Error Win32Error(ErrorCode code, const std::string& context, DWORD err) {
  if (err == ERROR_ACCESS_DENIED) code = ErrorCode::kPermissionDenied;
  return Error(code, context, OsErrorKind::kWin32, static_cast<std::int64_t>(err));
}

// The DACL part of `sd` as SDDL, as Windows spells it (so that two spellings compare equal).
Expected<std::string> DaclSddl(PSECURITY_DESCRIPTOR sd, const std::string& what) {
  LPWSTR text = nullptr;
  if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(
          sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, nullptr)) {
    return Win32Error(ErrorCode::kOs,
                      "ConvertSecurityDescriptorToStringSecurityDescriptorW for " + what,
                      GetLastError());
  }
  LocalPtr owned(text);
  return Utf8(text);
}

}  // namespace

std::string LocalHostName() {
  wchar_t buf[256] = {};
  DWORD size = 256;
  if (!GetComputerNameExW(ComputerNameDnsHostname, buf, &size) || size == 0) {
    size = 256;
    if (!GetComputerNameW(buf, &size) || size == 0) return "unknown";
  }
  return Utf8(buf, static_cast<int>(size));
}

Status ProtectPath(const std::string& path, Protect kind) {
  PSECURITY_DESCRIPTOR raw_sd = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(SddlFor(kind), SDDL_REVISION_1, &raw_sd,
                                                            nullptr)) {
    return Win32Error(ErrorCode::kInternal,
                      "ConvertStringSecurityDescriptorToSecurityDescriptorW (audit store DACL)",
                      GetLastError());
  }
  LocalPtr sd(raw_sd);
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL dacl = nullptr;
  if (!GetSecurityDescriptorDacl(raw_sd, &present, &dacl, &defaulted)) {
    return Win32Error(ErrorCode::kInternal, "GetSecurityDescriptorDacl (audit store DACL)",
                      GetLastError());
  }
  std::wstring wide = Wide(path);
  const DWORD rc = SetNamedSecurityInfoW(
      wide.data(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
      nullptr, nullptr, dacl, nullptr);
  if (rc != ERROR_SUCCESS) {
    return Win32Error(ErrorCode::kOs, "SetNamedSecurityInfoW on " + path, rc);
  }
  // Read back: a call that returns success and changes nothing must not pass for protection.
  PSECURITY_DESCRIPTOR got_sd = nullptr;
  const DWORD rc2 = GetNamedSecurityInfoW(wide.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION,
                                          nullptr, nullptr, nullptr, nullptr, &got_sd);
  if (rc2 != ERROR_SUCCESS) {
    return Win32Error(ErrorCode::kOs, "GetNamedSecurityInfoW on " + path, rc2);
  }
  LocalPtr got_owned(got_sd);
  auto want_text = DaclSddl(raw_sd, "the intended DACL");
  if (!want_text.ok()) return want_text.error();
  auto got_text = DaclSddl(got_sd, path);
  if (!got_text.ok()) return got_text.error();
  if (*want_text != *got_text) {
    return Error(ErrorCode::kVerificationFailed,
                 path + " has DACL " + *got_text + " after setting " + *want_text);
  }
  return OkStatus();
}

}  // namespace stockade::audit::platform
