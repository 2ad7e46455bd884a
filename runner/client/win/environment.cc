#include "runner/client/win/environment.h"

#include <windows.h>

#include <cwchar>

#include "provision/win/win_util.h"

namespace stockade::runner::client::win_os {

namespace pw = stockade::provision::win;

namespace {

// Variables that describe the machine, the terminal and the locale, not the caller: the rest of
// the environment (tokens, keys, agent credentials) never reaches the tree unless passed with
// --env. Windows programs need the first group to start at all (SystemRoot for Winsock, ...).
bool PassedThrough(const std::string& name) {
  static const char* const kNames[] = {"PATH",
                                       "PATHEXT",
                                       "SystemRoot",
                                       "SystemDrive",
                                       "windir",
                                       "ComSpec",
                                       "OS",
                                       "PROCESSOR_ARCHITECTURE",
                                       "NUMBER_OF_PROCESSORS",
                                       "ProgramFiles",
                                       "ProgramFiles(x86)",
                                       "ProgramW6432",
                                       "CommonProgramFiles",
                                       "CommonProgramFiles(x86)",
                                       "CommonProgramW6432",
                                       "ProgramData",
                                       "TERM",
                                       "COLORTERM",
                                       "LANG",
                                       "TZ",
                                       "NO_COLOR"};
  for (const char* known : kNames) {
    if (pw::EqualsIgnoreCase(name, known)) return true;
  }
  return false;
}

}  // namespace

Expected<std::vector<std::string>> RequestEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  wchar_t* block = GetEnvironmentStringsW();
  for (const wchar_t* p = block; p != nullptr && *p != L'\0'; p += wcslen(p) + 1) {
    const std::string entry = pw::Utf8(p);
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;  // "=C:=C:\..." drive entries
    if (PassedThrough(entry.substr(0, eq))) env.push_back(entry);
  }
  if (block != nullptr) FreeEnvironmentStringsW(block);
  for (const std::string& entry : extra) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || entry.find('\0') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "--env '" + entry + "': expected NAME=VALUE with a non-empty NAME");
    }
    const std::string name = entry.substr(0, eq);
    std::erase_if(env, [&](const std::string& e) {
      const std::size_t other = e.find('=');
      return pw::EqualsIgnoreCase(e.substr(0, other), name);
    });
    env.push_back(entry);
  }
  return env;
}

}  // namespace stockade::runner::client::win_os
