#include "provision/win/win_util.h"

#include <lmerr.h>

#include <algorithm>
#include <cstdio>
#include <cwctype>

namespace stockade::provision::win {

std::wstring Wide(std::string_view utf8) {
  if (utf8.empty()) return {};
  const int size = static_cast<int>(utf8.size());
  const int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), size, nullptr, 0);
  if (n <= 0) return {};
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), size, out.data(), n);
  return out;
}

std::string Utf8(std::wstring_view wide) {
  if (wide.empty()) return {};
  const int size = static_cast<int>(wide.size());
  const int n = WideCharToMultiByte(CP_UTF8, 0, wide.data(), size, nullptr, 0, nullptr, nullptr);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide.data(), size, out.data(), n, nullptr, nullptr);
  return out;
}

std::string Utf8(const wchar_t* wide) {
  return wide == nullptr ? std::string() : Utf8(std::wstring_view(wide));
}

namespace {

// The NetApi's own codes: FormatMessage knows them only through netmsg.dll, and the few the
// provisioner can meet deserve a readable text without loading another module.
const char* NetApiText(DWORD code) {
  switch (code) {
    case NERR_InternalError:
      return "an internal error occurred in the NetApi";
    case NERR_BadUsername:
      return "the user name or group name parameter is invalid";
    case NERR_GroupNotFound:
      return "the group name could not be found";
    case NERR_UserNotFound:
      return "the user name could not be found";
    case NERR_GroupExists:
      return "the group already exists";
    case NERR_UserExists:
      return "the user account already exists";
    case NERR_UserInGroup:
      return "the user already belongs to this group";
    case NERR_UserNotInGroup:
      return "the user does not belong to this group";
    case NERR_PasswordTooShort:
      return "the password does not meet the password policy requirements";
    case NERR_InvalidComputer:
      return "the computer name is invalid";
    case NERR_NotPrimary:
      return "the operation is allowed only on the primary domain controller";
    default:
      return nullptr;
  }
}

}  // namespace

std::string Win32Message(DWORD code) {
  if (const char* text = NetApiText(code)) return text;
  wchar_t* buffer = nullptr;
  const DWORD n = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&buffer), 0, nullptr);
  std::string text;
  if (n > 0 && buffer != nullptr) text = Utf8(std::wstring_view(buffer, n));
  if (buffer != nullptr) LocalFree(buffer);
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '.')) {
    text.pop_back();
  }
  if (text.empty()) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "error 0x%08lX", static_cast<unsigned long>(code));
    text = hex;
  }
  return text;
}

ErrorCode CodeForWin32(DWORD code) {
  switch (code) {
    case ERROR_ACCESS_DENIED:
      return ErrorCode::kPermissionDenied;
    case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_NOT_ALL_ASSIGNED:
      return ErrorCode::kNotElevated;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_NONE_MAPPED:
    case ERROR_NO_SUCH_USER:
    case ERROR_NO_SUCH_GROUP:
    case ERROR_NO_SUCH_ALIAS:
    case ERROR_SERVICE_DOES_NOT_EXIST:
    case NERR_UserNotFound:
    case NERR_GroupNotFound:
      return ErrorCode::kNotFound;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
    case ERROR_USER_EXISTS:
    case ERROR_GROUP_EXISTS:
    case ERROR_ALIAS_EXISTS:
    case ERROR_SERVICE_EXISTS:
    case NERR_UserExists:
    case NERR_GroupExists:
      return ErrorCode::kAlreadyExists;
    case ERROR_CALL_NOT_IMPLEMENTED:
    case ERROR_NOT_SUPPORTED:
      return ErrorCode::kUnsupported;
    default:
      return ErrorCode::kOs;
  }
}

ErrorCode CodeForHresult(HRESULT hr) {
  if (hr == E_NOTIMPL || hr == E_NOINTERFACE || hr == REGDB_E_CLASSNOTREG) {
    return ErrorCode::kUnsupported;
  }
  if (HRESULT_FACILITY(hr) == FACILITY_WIN32) {
    return CodeForWin32(static_cast<DWORD>(HRESULT_CODE(hr)));
  }
  return ErrorCode::kOs;
}

Error Win32Error(std::string_view what, DWORD code) {
  return Win32Error(CodeForWin32(code), what, code);
}

Error Win32Error(ErrorCode code, std::string_view what, DWORD win32) {
  return Error(code, std::string(what) + ": " + Win32Message(win32), OsErrorKind::kWin32,
               static_cast<std::int64_t>(win32));
}

Error LastWin32Error(std::string_view what) { return Win32Error(what, GetLastError()); }

Error HresultError(std::string_view what, HRESULT hr) {
  return HresultError(CodeForHresult(hr), what, hr);
}

Error HresultError(ErrorCode code, std::string_view what, HRESULT hr) {
  return Error(code, std::string(what) + ": " + Win32Message(static_cast<DWORD>(hr)),
               OsErrorKind::kHresult, static_cast<std::int64_t>(static_cast<std::uint32_t>(hr)));
}

bool RunningUnderWine() {
  static const bool wine = [] {
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
  }();
  return wine;
}

Status RefuseWineUnimplemented(std::string_view api, std::string_view target) {
  if (!RunningUnderWine()) return OkStatus();
  return Error(ErrorCode::kUnsupported,
               std::string(api) + "(" + std::string(target) +
                   "): not implemented by Wine (calling it would abort the process)",
               OsErrorKind::kWin32, ERROR_CALL_NOT_IMPLEMENTED);
}

Expected<std::string> ComputerName() {
  wchar_t name[MAX_COMPUTERNAME_LENGTH + 1];
  DWORD size = MAX_COMPUTERNAME_LENGTH + 1;
  if (!GetComputerNameW(name, &size)) return LastWin32Error("GetComputerNameW");
  return Utf8(std::wstring_view(name, size));
}

std::string HexEncode(const std::vector<BYTE>& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (BYTE b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

std::optional<std::vector<BYTE>> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<BYTE> out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit(text[i]);
    const int lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<BYTE>(hi * 16 + lo));
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  const std::wstring wa = Wide(a);
  const std::wstring wb = Wide(b);
  return CompareStringOrdinal(wa.data(), static_cast<int>(wa.size()), wb.data(),
                              static_cast<int>(wb.size()), TRUE) == CSTR_EQUAL;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  const std::wstring wt = Wide(text);
  const std::wstring wp = Wide(prefix);
  if (wp.size() > wt.size()) return false;
  return CompareStringOrdinal(wt.data(), static_cast<int>(wp.size()), wp.data(),
                              static_cast<int>(wp.size()), TRUE) == CSTR_EQUAL;
}

}  // namespace stockade::provision::win
