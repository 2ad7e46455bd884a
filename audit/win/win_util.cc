#include "audit/win/win_util.h"

namespace stockade::audit::win_os {

std::string Utf8(std::wstring_view wide) {
  if (wide.empty()) return {};
  const int n = WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), nullptr,
                                    0, nullptr, nullptr);
  if (n <= 0) return {};
  std::string out(static_cast<std::size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), out.data(), n,
                      nullptr, nullptr);
  return out;
}

std::wstring Wide(std::string_view utf8) {
  if (utf8.empty()) return {};
  const int n =
      MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  if (n <= 0) return {};
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

Error Win32Error(std::string_view what, DWORD code, ErrorCode fallback) {
  wchar_t* text = nullptr;
  const DWORD n = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
  std::string message;
  if (n > 0 && text != nullptr) {
    message = Utf8(std::wstring_view(text, n));
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r' ||
                                message.back() == ' ' || message.back() == '.')) {
      message.pop_back();
    }
  }
  if (text != nullptr) LocalFree(text);
  const ErrorCode ec = code == ERROR_ACCESS_DENIED ? ErrorCode::kPermissionDenied : fallback;
  std::string context(what);
  if (!message.empty()) context += ": " + message;
  return Error(ec, context, OsErrorKind::kWin32, static_cast<std::int64_t>(code));
}

TimeNs FileTimeToNs(const FILETIME& time) {
  const std::uint64_t ticks =
      (static_cast<std::uint64_t>(time.dwHighDateTime) << 32) | time.dwLowDateTime;
  if (ticks == 0) return 0;
  // 11644473600 s between 1601-01-01 and 1970-01-01.
  constexpr std::int64_t kEpochDifference = 116444736000000000LL;
  return (static_cast<std::int64_t>(ticks) - kEpochDifference) * 100;
}

}  // namespace stockade::audit::win_os
