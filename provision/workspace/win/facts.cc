// Windows facts about a candidate workspace: reparse points (symlinks, junctions, mount points)
// along the path, volume roots, the OS's folders and every local profile.
#include <windows.h>
#include <shlobj.h>

#include <set>
#include <string>

#include "provision/win/win_util.h"
#include "provision/workspace/workspace_check.h"

namespace stockade::provision {

using win::Utf8;
using win::Wide;

namespace {

Error Win32Error(const std::string& what, DWORD code) {
  return Error(ErrorCode::kOs, what, OsErrorKind::kWin32, static_cast<std::int64_t>(code));
}

// Appends the normalised path of a known folder, when the OS has one.
void AddKnownFolder(REFKNOWNFOLDERID id, std::vector<std::string>& out) {
  PWSTR raw = nullptr;
  if (SUCCEEDED(SHGetKnownFolderPath(id, KF_FLAG_DONT_VERIFY, nullptr, &raw)) && raw != nullptr) {
    auto norm = paths::Normalize(Utf8(raw), paths::PathStyle::kWindows);
    if (norm.ok()) out.push_back(*norm);
  }
  CoTaskMemFree(raw);
}

// Every profile folder registered on the machine (HKLM\...\ProfileList\<SID>\ProfileImagePath).
void AddProfiles(std::vector<std::string>& out) {
  HKEY list = nullptr;
  if (RegOpenKeyExW(HKEY_LOCAL_MACHINE,
                    L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList", 0,
                    KEY_READ, &list) != ERROR_SUCCESS) {
    return;
  }
  wchar_t name[256];
  for (DWORD i = 0;; ++i) {
    DWORD name_len = 256;
    if (RegEnumKeyExW(list, i, name, &name_len, nullptr, nullptr, nullptr, nullptr) !=
        ERROR_SUCCESS) {
      break;
    }
    wchar_t value[MAX_PATH * 2];
    DWORD size = sizeof value;
    if (RegGetValueW(list, name, L"ProfileImagePath", RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ,
                     nullptr, value, &size) != ERROR_SUCCESS) {
      continue;
    }
    wchar_t expanded[MAX_PATH * 2];
    if (ExpandEnvironmentStringsW(value, expanded, MAX_PATH * 2) == 0) continue;
    auto norm = paths::Normalize(Utf8(expanded), paths::PathStyle::kWindows);
    if (norm.ok()) out.push_back(*norm);
  }
  RegCloseKey(list);
}

}  // namespace

Expected<WorkspaceFacts> GatherWorkspaceFacts(const std::string& path) {
  auto normalized = paths::Normalize(path, paths::PathStyle::kWindows);
  if (!normalized.ok()) return normalized.error();
  WorkspaceFacts facts;
  facts.requested = *normalized;

  // Every prefix below the root: a reparse point anywhere redirects the grant.
  auto split = paths::Split(facts.requested, paths::PathStyle::kWindows);
  std::string prefix = split.root;
  for (const auto& component : split.components) {
    if (prefix.back() != '\\') prefix += '\\';
    prefix += component;
    DWORD attributes = GetFileAttributesW(Wide(prefix).c_str());
    if (attributes == INVALID_FILE_ATTRIBUTES) {
      DWORD err = GetLastError();
      if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return facts;
      return Win32Error("GetFileAttributesW " + prefix, err);
    }
    if (attributes & FILE_ATTRIBUTE_REPARSE_POINT) {
      facts.link_component = prefix;
      break;
    }
  }

  HANDLE dir = CreateFileW(Wide(facts.requested).c_str(), FILE_READ_ATTRIBUTES,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
  if (dir == INVALID_HANDLE_VALUE) {
    DWORD err = GetLastError();
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return facts;
    return Win32Error("CreateFileW " + facts.requested, err);
  }
  facts.exists = true;
  BY_HANDLE_FILE_INFORMATION info{};
  bool have_info = GetFileInformationByHandle(dir, &info) != 0;
  wchar_t final_path[32768];
  DWORD n = GetFinalPathNameByHandleW(dir, final_path, 32768, FILE_NAME_NORMALIZED);
  DWORD final_err = GetLastError();
  CloseHandle(dir);
  if (!have_info) return Win32Error("GetFileInformationByHandle " + facts.requested, final_err);
  facts.is_directory = (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
  if (n == 0 || n >= 32768) {
    return Win32Error("GetFinalPathNameByHandleW " + facts.requested, final_err);
  }
  auto resolved = paths::Normalize(Utf8(std::wstring(final_path, n)), paths::PathStyle::kWindows);
  if (!resolved.ok()) return resolved.error();
  facts.resolved = *resolved;

  wchar_t volume[MAX_PATH + 1];
  if (GetVolumePathNameW(Wide(facts.resolved).c_str(), volume, MAX_PATH + 1)) {
    auto vol = paths::Normalize(Utf8(volume), paths::PathStyle::kWindows);
    facts.is_filesystem_root = vol.ok() && paths::Equal(*vol, facts.resolved,
                                                        paths::PathStyle::kWindows);
  }
  auto root_only = paths::Split(facts.resolved, paths::PathStyle::kWindows);
  if (root_only.components.empty()) facts.is_filesystem_root = true;

  AddKnownFolder(FOLDERID_Windows, facts.system_folders);
  AddKnownFolder(FOLDERID_ProgramFiles, facts.system_folders);
  AddKnownFolder(FOLDERID_ProgramFilesX86, facts.system_folders);
  AddKnownFolder(FOLDERID_ProgramData, facts.system_folders);
  AddKnownFolder(FOLDERID_UserProfiles, facts.shared_folders);
  AddKnownFolder(FOLDERID_Public, facts.shared_folders);
  AddProfiles(facts.shared_folders);
  return facts;
}

}  // namespace stockade::provision
