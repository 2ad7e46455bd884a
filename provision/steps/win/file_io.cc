// Windows half of the file step's I/O. Windows keeps one permission bit a portable mode can
// express -- the read-only attribute -- so SignificantModeBits() is 0200 (owner write) and mode
// read-backs are 0444 or 0666. Reparse points (symlinks, junctions) are never followed.
#include "provision/steps/file_io.h"

#include <windows.h>

#include <string>

namespace stockade::provision::file_io {
namespace {

std::wstring Widen(const std::string& utf8) {
  if (utf8.empty()) return std::wstring();
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(),
                              static_cast<int>(utf8.size()), nullptr, 0);
  if (n <= 0) return std::wstring();
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), static_cast<int>(utf8.size()),
                      out.data(), n);
  for (wchar_t& c : out) {
    if (c == L'/') c = L'\\';
  }
  return out;
}

Error Win32Error(std::string context, DWORD err) {
  ErrorCode code = err == ERROR_ACCESS_DENIED ? ErrorCode::kPermissionDenied : ErrorCode::kIo;
  return Error(code, std::move(context) + " (Windows error " + std::to_string(err) + ")",
               OsErrorKind::kWin32, static_cast<std::int64_t>(err));
}

Error BadPath(const std::string& path) {
  return Error(ErrorCode::kPathInvalid, "path " + path + " is empty or not valid UTF-8");
}

bool IsMissing(DWORD err) { return err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND; }

// Owns a file HANDLE.
class Handle {
 public:
  explicit Handle(HANDLE h) : h_(h) {}
  ~Handle() {
    if (h_ != INVALID_HANDLE_VALUE) CloseHandle(h_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  HANDLE get() const { return h_; }
  bool Close() {
    bool ok = CloseHandle(h_) != 0;
    h_ = INVALID_HANDLE_VALUE;
    return ok;
  }

 private:
  HANDLE h_;
};

// Clears the read-only attribute so that the entry can be replaced or deleted.
void MakeWritable(const std::wstring& path) {
  DWORD attrs = GetFileAttributesW(path.c_str());
  if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_READONLY) != 0) {
    SetFileAttributesW(path.c_str(), attrs & ~static_cast<DWORD>(FILE_ATTRIBUTE_READONLY));
  }
}

}  // namespace

std::uint32_t SignificantModeBits() { return 0200; }

std::string TempPathFor(const std::string& path) { return path + ".stockade-new"; }

Expected<FileSnapshot> Read(const std::string& path) {
  const std::wstring wide = Widen(path);
  if (wide.empty()) return BadPath(path);
  FileSnapshot snap;
  DWORD attrs = GetFileAttributesW(wide.c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) {
    DWORD err = GetLastError();
    if (IsMissing(err)) return snap;
    return Win32Error("reading the attributes of " + path, err);
  }
  snap.mode = (attrs & FILE_ATTRIBUTE_READONLY) != 0 ? 0444 : 0666;
  if ((attrs & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
    snap.type = NodeType::kOther;
    return snap;
  }
  if ((attrs & FILE_ATTRIBUTE_DIRECTORY) != 0) {
    snap.type = NodeType::kDirectory;
    return snap;
  }
  snap.type = NodeType::kRegular;
  Handle file(CreateFileW(wide.c_str(), GENERIC_READ,
                          FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                          OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
  if (file.get() == INVALID_HANDLE_VALUE) {
    return Win32Error("opening " + path + " to read it", GetLastError());
  }
  char buffer[65536];
  while (true) {
    DWORD n = 0;
    if (!ReadFile(file.get(), buffer, sizeof(buffer), &n, nullptr)) {
      return Win32Error("reading " + path, GetLastError());
    }
    if (n == 0) break;
    snap.content.append(buffer, n);
  }
  return snap;
}

Status WriteAtomically(const std::string& path, std::string_view content, std::uint32_t mode) {
  const std::wstring wide = Widen(path);
  const std::string temp = TempPathFor(path);
  const std::wstring wide_temp = Widen(temp);
  if (wide.empty() || wide_temp.empty()) return BadPath(path);
  MakeWritable(wide_temp);  // a read-only temp left by a crash would refuse CREATE_ALWAYS
  {
    Handle file(CreateFileW(wide_temp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                            FILE_ATTRIBUTE_NORMAL, nullptr));
    if (file.get() == INVALID_HANDLE_VALUE) {
      return Win32Error("creating " + temp, GetLastError());
    }
    size_t done = 0;
    while (done < content.size()) {
      DWORD chunk = static_cast<DWORD>(std::min<size_t>(content.size() - done, 1u << 30));
      DWORD n = 0;
      if (!WriteFile(file.get(), content.data() + done, chunk, &n, nullptr)) {
        return Win32Error("writing " + temp, GetLastError());
      }
      done += n;
    }
    if (!FlushFileBuffers(file.get())) return Win32Error("flushing " + temp, GetLastError());
    if (!file.Close()) return Win32Error("closing " + temp, GetLastError());
  }
  if ((mode & 0200) == 0 && !SetFileAttributesW(wide_temp.c_str(), FILE_ATTRIBUTE_READONLY)) {
    return Win32Error("making " + temp + " read-only", GetLastError());
  }
  MakeWritable(wide);  // MoveFileEx refuses to replace a read-only file
  if (!MoveFileExW(wide_temp.c_str(), wide.c_str(),
                   MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    return Win32Error("renaming " + temp + " over " + path, GetLastError());
  }
  return OkStatus();
}

Status Remove(const std::string& path) {
  const std::wstring wide = Widen(path);
  if (wide.empty()) return BadPath(path);
  MakeWritable(wide);
  if (!DeleteFileW(wide.c_str())) {
    DWORD err = GetLastError();
    if (IsMissing(err)) return OkStatus();
    return Win32Error("removing " + path, err);
  }
  return OkStatus();
}

Status RemoveTemp(const std::string& path) { return Remove(TempPathFor(path)); }

Status MakeDirectory(const std::string& path, std::uint32_t /*mode*/) {
  const std::wstring wide = Widen(path);
  if (wide.empty()) return BadPath(path);
  // The folder inherits its parent's ACL; a POSIX mode has no Windows meaning for folders.
  if (!CreateDirectoryW(wide.c_str(), nullptr)) {
    DWORD err = GetLastError();
    DWORD attrs = GetFileAttributesW(wide.c_str());
    if (err == ERROR_ALREADY_EXISTS && attrs != INVALID_FILE_ATTRIBUTES &&
        (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0) {
      return OkStatus();
    }
    return Win32Error("creating folder " + path, err);
  }
  return OkStatus();
}

Expected<bool> RemoveEmptyDirectory(const std::string& path) {
  const std::wstring wide = Widen(path);
  if (wide.empty()) return BadPath(path);
  if (!RemoveDirectoryW(wide.c_str())) {
    DWORD err = GetLastError();
    if (IsMissing(err)) return true;
    if (err == ERROR_DIR_NOT_EMPTY) return false;
    return Win32Error("removing folder " + path, err);
  }
  return true;
}

}  // namespace stockade::provision::file_io
