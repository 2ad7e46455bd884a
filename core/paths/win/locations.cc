#include "core/paths/locations.h"

#include <windows.h>
// windows.h first: the shell and profile headers depend on its types.
#include <knownfolders.h>
#include <shlobj.h>
#include <userenv.h>

#include <memory>
#include <optional>
#include <string_view>

#include "core/paths/path_rules.h"

namespace stockade::paths {

namespace {

constexpr char kFallbackProgramData[] = "C:\\ProgramData";

struct CoTaskMemDeleter {
  void operator()(wchar_t* p) const { CoTaskMemFree(p); }
};
using CoTaskMemString = std::unique_ptr<wchar_t, CoTaskMemDeleter>;

struct HandleCloser {
  void operator()(HANDLE h) const { CloseHandle(h); }
};
using UniqueHandle = std::unique_ptr<void, HandleCloser>;

Error Win32Error(ErrorCode code, std::string context, DWORD err) {
  return Error(code, std::move(context), OsErrorKind::kWin32, static_cast<std::int64_t>(err));
}

// Converts UTF-16 from the OS to UTF-8. WC_ERR_INVALID_CHARS makes a lone surrogate (possible in
// Windows names, which are not checked UTF-16) an error instead of a silent U+FFFD, which would
// make two different names look the same.
Expected<std::string> ToUtf8(std::wstring_view wide, std::string_view what) {
  if (wide.empty()) return std::string();
  const int size = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, wide.data(),
                                       static_cast<int>(wide.size()), nullptr, 0, nullptr, nullptr);
  if (size <= 0) {
    return Win32Error(ErrorCode::kPathInvalid,
                      std::string(what) + " is not valid UTF-16 (lone surrogate)", GetLastError());
  }
  std::string out(static_cast<size_t>(size), '\0');
  WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, wide.data(), static_cast<int>(wide.size()),
                      out.data(), size, nullptr, nullptr);
  return out;
}

std::wstring ToWide(std::string_view utf8) {
  if (utf8.empty()) return std::wstring();
  const int size =
      MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(size > 0 ? size : 0), L'\0');
  if (size > 0) {
    MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), size);
  }
  return out;
}

// Reads a variable from the process environment block. GetEnvironmentVariableW rather than
// _wgetenv: the CRT keeps its own copy, which SetEnvironmentVariableW does not update. Unset,
// empty and non-UTF-16 values all count as unset.
std::optional<std::string> Env(std::string_view name) {
  const std::wstring wname = ToWide(name);
  std::wstring buffer(256, L'\0');
  for (;;) {
    SetLastError(ERROR_SUCCESS);
    const DWORD n =
        GetEnvironmentVariableW(wname.c_str(), buffer.data(), static_cast<DWORD>(buffer.size()));
    if (n == 0) return std::nullopt;  // unset (ERROR_ENVVAR_NOT_FOUND) or empty
    if (n < buffer.size()) {
      buffer.resize(n);
      break;
    }
    buffer.assign(n, L'\0');  // n includes the terminator when the buffer was too small
  }
  auto utf8 = ToUtf8(buffer, name);
  if (!utf8.ok()) return std::nullopt;
  return std::move(*utf8);
}

// The ProgramData folder, normalised. The known-folder API is authoritative (it reads the
// machine's registry); the variable is only a fallback, since a user can set it to anything.
std::string ProgramDataDir() {
  wchar_t* raw = nullptr;
  const HRESULT hr = SHGetKnownFolderPath(FOLDERID_ProgramData, KF_FLAG_DEFAULT, nullptr, &raw);
  CoTaskMemString owned(raw);  // must be freed even when the call failed
  if (SUCCEEDED(hr) && owned) {
    auto utf8 = ToUtf8(owned.get(), "FOLDERID_ProgramData");
    if (utf8.ok()) {
      auto normalized = Normalize(*utf8, PathStyle::kWindows);
      if (normalized.ok()) return std::move(*normalized);
    }
  }
  if (auto env = Env("ProgramData")) {
    auto normalized = Normalize(*env, PathStyle::kWindows);
    if (normalized.ok()) return std::move(*normalized);
  }
  return kFallbackProgramData;
}

Expected<std::string> ProfileOfProcessToken() {
  HANDLE raw = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &raw)) {
    return Win32Error(ErrorCode::kOs, "OpenProcessToken(TOKEN_QUERY) for the profile directory",
                      GetLastError());
  }
  UniqueHandle token(raw);
  DWORD size = 0;
  GetUserProfileDirectoryW(token.get(), nullptr, &size);
  if (size == 0) {
    const DWORD err = GetLastError();
    return Win32Error(err == ERROR_FILE_NOT_FOUND ? ErrorCode::kNotFound : ErrorCode::kOs,
                      "GetUserProfileDirectoryW: no profile directory for this process's user "
                      "and USERPROFILE is not set",
                      err);
  }
  std::wstring buffer(size, L'\0');
  if (!GetUserProfileDirectoryW(token.get(), buffer.data(), &size)) {
    return Win32Error(ErrorCode::kOs, "GetUserProfileDirectoryW", GetLastError());
  }
  buffer.resize(wcsnlen(buffer.c_str(), buffer.size()));
  auto utf8 = ToUtf8(buffer, "the profile directory");
  if (!utf8.ok()) return utf8.error();
  auto normalized = Normalize(*utf8, PathStyle::kWindows);
  if (!normalized.ok()) return normalized.error().Wrap("GetUserProfileDirectoryW result");
  return normalized;
}

}  // namespace

std::string DefaultPolicyPath() {
  if (auto env = Env(kPolicyPathEnv)) return std::move(*env);
  return ProgramDataDir() + "\\Stockade\\policy.toml";
}

std::string DefaultStateDir() {
  if (auto env = Env(kStateDirEnv)) return std::move(*env);
  return ProgramDataDir() + "\\Stockade";
}

Expected<std::string> CurrentUserHome() {
  if (const auto profile = Env("USERPROFILE")) {
    auto normalized = Normalize(*profile, PathStyle::kWindows);
    if (!normalized.ok()) return normalized.error().Wrap("USERPROFILE environment variable");
    return normalized;
  }
  return ProfileOfProcessToken();
}

Expected<std::string> TempDir() {
  // MAX_PATH + 1 is the documented maximum GetTempPathW returns; ask for the size anyway in case
  // a long-path-aware system returns more.
  std::wstring buffer(MAX_PATH + 1, L'\0');
  DWORD n = GetTempPathW(static_cast<DWORD>(buffer.size()), buffer.data());
  if (n > buffer.size()) {
    buffer.assign(n, L'\0');
    n = GetTempPathW(static_cast<DWORD>(buffer.size()), buffer.data());
  }
  if (n == 0 || n > buffer.size()) {
    return Win32Error(ErrorCode::kOs, "GetTempPathW", GetLastError());
  }
  buffer.resize(n);
  auto utf8 = ToUtf8(buffer, "the temp directory");
  if (!utf8.ok()) return utf8.error();
  auto normalized = Normalize(*utf8, PathStyle::kWindows);
  if (!normalized.ok()) return normalized.error().Wrap("GetTempPathW result");
  return normalized;
}

}  // namespace stockade::paths
