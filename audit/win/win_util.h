// Small Windows helpers of the audit module's OS code (audit/win): UTF-16 <-> UTF-8, an owned
// HANDLE, FILETIME -> TimeNs and Win32 errors in the project's Error type. The audit module
// depends on core only, so it does not borrow provision/win's equivalents.
#ifndef STOCKADE_AUDIT_WIN_WIN_UTIL_H_
#define STOCKADE_AUDIT_WIN_WIN_UTIL_H_

#include <windows.h>

#include <string>
#include <string_view>

#include "audit/event.h"
#include "core/error.h"

namespace stockade::audit::win_os {

std::string Utf8(std::wstring_view wide);
std::wstring Wide(std::string_view utf8);

// The Win32 error `code` as an Error: kPermissionDenied for ERROR_ACCESS_DENIED, `fallback`
// otherwise; the context is `what` and the system's message.
Error Win32Error(std::string_view what, DWORD code, ErrorCode fallback = ErrorCode::kOs);
inline Error LastWin32Error(std::string_view what, ErrorCode fallback = ErrorCode::kOs) {
  return Win32Error(what, GetLastError(), fallback);
}

// A FILETIME (100 ns since 1601-01-01 UTC) as TimeNs; 0 for a zero FILETIME.
TimeNs FileTimeToNs(const FILETIME& time);

// Owns a HANDLE (nullptr and INVALID_HANDLE_VALUE both mean none); CloseHandle on reset.
class OwnedHandle {
 public:
  OwnedHandle() = default;
  explicit OwnedHandle(HANDLE h) : h_(h) {}
  OwnedHandle(OwnedHandle&& o) noexcept : h_(o.release()) {}
  OwnedHandle& operator=(OwnedHandle&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  OwnedHandle(const OwnedHandle&) = delete;
  OwnedHandle& operator=(const OwnedHandle&) = delete;
  ~OwnedHandle() { reset(); }

  HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  HANDLE release() {
    HANDLE h = h_;
    h_ = nullptr;
    return h;
  }
  void reset(HANDLE h = nullptr) {
    if (h_ != nullptr && h_ != INVALID_HANDLE_VALUE) CloseHandle(h_);
    h_ = h;
  }

 private:
  HANDLE h_ = nullptr;
};

}  // namespace stockade::audit::win_os

#endif  // STOCKADE_AUDIT_WIN_WIN_UTIL_H_
