// LockFileEx on <state_dir>/provision.lock. Windows byte-range locks are mandatory (a locked
// range cannot be read through another handle), so the lock covers one byte far beyond the pid
// text at offset 0: the pid stays readable by the process that is told to wait. The lock belongs
// to the handle, and the system drops it when the process dies.
#include "provision/lock.h"

#include <windows.h>

#include <string>
#include <thread>

namespace stockade::provision {
namespace {

constexpr std::chrono::milliseconds kPollInterval{50};
// The locked byte: offset 2^31, beyond any pid text, in the range Windows allows to lock even
// past the end of the file.
constexpr DWORD kLockOffsetLow = 0x80000000u;

std::wstring Widen(const std::string& utf8) {
  if (utf8.empty()) return std::wstring();
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(),
                              static_cast<int>(utf8.size()), nullptr, 0);
  if (n <= 0) return std::wstring();
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), static_cast<int>(utf8.size()),
                      out.data(), n);
  return out;
}

Error Win32Error(ErrorCode code, std::string context, DWORD err) {
  return Error(code, std::move(context) + " (Windows error " + std::to_string(err) + ")",
               OsErrorKind::kWin32, static_cast<std::int64_t>(err));
}

OVERLAPPED LockRange() {
  OVERLAPPED ov = {};
  ov.Offset = kLockOffsetLow;
  ov.OffsetHigh = 0;
  return ov;
}

std::string ReadHolderPid(HANDLE file) {
  char buffer[32] = {};
  OVERLAPPED at_zero = {};
  DWORD read = 0;
  if (!ReadFile(file, buffer, sizeof(buffer) - 1, &read, &at_zero)) return "unknown";
  std::string text(buffer, read);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return "unknown";
  return text;
}

// Closes a handle on scope exit unless released.
class HandleGuard {
 public:
  explicit HandleGuard(HANDLE h) : h_(h) {}
  ~HandleGuard() {
    if (h_ != INVALID_HANDLE_VALUE) CloseHandle(h_);
  }
  HandleGuard(const HandleGuard&) = delete;
  HandleGuard& operator=(const HandleGuard&) = delete;
  HANDLE release() {
    HANDLE h = h_;
    h_ = INVALID_HANDLE_VALUE;
    return h;
  }

 private:
  HANDLE h_;
};

}  // namespace

Expected<ProvisionLock> ProvisionLock::Acquire(const std::string& state_dir,
                                               std::chrono::milliseconds timeout) {
  const std::string path = PathFor(state_dir);
  const std::wstring wide = Widen(path);
  if (wide.empty()) {
    return Error(ErrorCode::kPathInvalid, "provision lock path " + path + " is not valid UTF-8");
  }
  // Sharing read/write/delete: other provisioners must open the file to wait on it and read the
  // holder's pid; exclusion comes from the byte-range lock, not from the sharing mode.
  HANDLE file = CreateFileW(wide.c_str(), GENERIC_READ | GENERIC_WRITE,
                            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                            OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file == INVALID_HANDLE_VALUE) {
    DWORD err = GetLastError();
    return Win32Error(err == ERROR_ACCESS_DENIED ? ErrorCode::kPermissionDenied : ErrorCode::kIo,
                      "opening the provision lock " + path, err);
  }
  HandleGuard guard(file);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    OVERLAPPED ov = LockRange();
    if (LockFileEx(file, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov)) break;
    DWORD err = GetLastError();
    if (err != ERROR_LOCK_VIOLATION && err != ERROR_IO_PENDING) {
      return Win32Error(ErrorCode::kIo, "locking " + path, err);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(ErrorCode::kDatabaseBusy, "another stockade-provision (pid " +
                                                 ReadHolderPid(file) + ") holds " + path +
                                                 "; waited " + std::to_string(timeout.count()) +
                                                 " ms (STOCKADE_LOCK_TIMEOUT_MS sets how long)");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  ProvisionLock lock(reinterpret_cast<std::intptr_t>(guard.release()), path);
  const std::string pid = std::to_string(GetCurrentProcessId()) + "\n";
  OVERLAPPED at_zero = {};
  DWORD written = 0;
  if (SetFilePointer(file, 0, nullptr, FILE_BEGIN) == INVALID_SET_FILE_POINTER ||
      !SetEndOfFile(file) ||
      !WriteFile(file, pid.data(), static_cast<DWORD>(pid.size()), &written, &at_zero) ||
      written != pid.size()) {
    return Win32Error(ErrorCode::kIo, "writing this process's pid into " + path, GetLastError());
  }
  return lock;
}

void ProvisionLock::Release() {
  if (handle_ == -1) return;
  HANDLE file = reinterpret_cast<HANDLE>(handle_);
  handle_ = -1;
  // Clear the pid first so that nobody reads a stale holder (best effort: closing the handle
  // releases the lock whatever happens here).
  if (SetFilePointer(file, 0, nullptr, FILE_BEGIN) != INVALID_SET_FILE_POINTER) {
    SetEndOfFile(file);
  }
  OVERLAPPED ov = LockRange();
  UnlockFileEx(file, 0, 1, 0, &ov);
  CloseHandle(file);
}

}  // namespace stockade::provision
