// Windows half of journal_test_support.h: CreateProcessW with an inheritable output file and an
// environment block extended with the requested variables.
#include <windows.h>

#include <map>
#include <string>

#include "../journal_test_support.h"

namespace stockade::provision::journal_test {
namespace {

std::wstring Widen(const std::string& s) {
  if (s.empty()) return std::wstring();
  int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), out.data(), n);
  return out;
}

std::string Narrow(const std::wstring& s) {
  if (s.empty()) return std::string();
  int n = WideCharToMultiByte(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0, nullptr,
                              nullptr);
  std::string out(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), out.data(), n, nullptr,
                      nullptr);
  return out;
}

// Quotes one argument by the rules CommandLineToArgvW and the CRT use.
std::wstring Quote(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\"") == std::wstring::npos) return arg;
  std::wstring out = L"\"";
  size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"')
      out.append(backslashes * 2 + 1, L'\\');
    else
      out.append(backslashes, L'\\');
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, L'\\');
  out += L'"';
  return out;
}

}  // namespace

ChildResult RunChild(const std::vector<std::string>& args,
                     const std::vector<std::pair<std::string, std::string>>& env) {
  ChildResult result;
  // Environment: this process's, with the requested names replaced (case-insensitively, as
  // Windows compares them) or added.
  std::map<std::wstring, std::wstring> vars;  // upper-case name -> "Name=value"
  if (wchar_t* block = GetEnvironmentStringsW()) {
    for (wchar_t* p = block; *p != L'\0'; p += wcslen(p) + 1) {
      std::wstring entry(p);
      size_t eq = entry.find(L'=', 1);
      std::wstring name = entry.substr(0, eq);
      for (wchar_t& c : name) c = static_cast<wchar_t>(towupper(c));
      vars[name] = entry;
    }
    FreeEnvironmentStringsW(block);
  }
  for (const auto& [name, value] : env) {
    std::wstring upper = Widen(name);
    for (wchar_t& c : upper) c = static_cast<wchar_t>(towupper(c));
    vars[upper] = Widen(name + "=" + value);
  }
  std::wstring env_block;
  for (const auto& [name, entry] : vars) {
    env_block += entry;
    env_block += L'\0';
  }
  env_block += L'\0';

  std::wstring command_line;
  for (const std::string& a : args) {
    if (!command_line.empty()) command_line += L' ';
    command_line += Quote(Widen(a));
  }

  wchar_t temp_dir[MAX_PATH + 1] = {};
  wchar_t out_path[MAX_PATH + 1] = {};
  GetTempPathW(MAX_PATH, temp_dir);
  GetTempFileNameW(temp_dir, L"sjc", 0, out_path);
  SECURITY_ATTRIBUTES inherit = {sizeof(inherit), nullptr, TRUE};
  HANDLE out = CreateFileW(out_path, GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &inherit,
                           CREATE_ALWAYS, FILE_ATTRIBUTE_TEMPORARY, nullptr);
  if (out == INVALID_HANDLE_VALUE) {
    result.output = "cannot create the child's output file";
    return result;
  }
  STARTUPINFOW si = {};
  si.cb = sizeof(si);
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
  si.hStdOutput = out;
  si.hStdError = out;
  PROCESS_INFORMATION pi = {};
  if (!CreateProcessW(nullptr, command_line.data(), nullptr, nullptr, TRUE,
                      CREATE_UNICODE_ENVIRONMENT, env_block.data(), nullptr, &si, &pi)) {
    result.output =
        "CreateProcessW failed for " + args[0] + ": error " + std::to_string(GetLastError());
    CloseHandle(out);
    DeleteFileW(out_path);
    return result;
  }
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(pi.hProcess, &code);
  result.exit_code = static_cast<int>(code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  SetFilePointer(out, 0, nullptr, FILE_BEGIN);
  char buffer[4096];
  DWORD n = 0;
  while (ReadFile(out, buffer, sizeof(buffer), &n, nullptr) && n > 0)
    result.output.append(buffer, n);
  CloseHandle(out);
  DeleteFileW(out_path);
  return result;
}

std::string DriverPath() {
  wchar_t self[MAX_PATH + 1] = {};
  DWORD n = GetModuleFileNameW(nullptr, self, MAX_PATH);
  std::wstring path(self, n);
  path = path.substr(0, path.find_last_of(L"\\/")) + L"\\provision_journal_driver.exe";
  return Narrow(path);
}

int CurrentPid() { return static_cast<int>(GetCurrentProcessId()); }

}  // namespace stockade::provision::journal_test
