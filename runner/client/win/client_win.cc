// Run() on Windows: resolve the workspace and working folder, choose the environment to pass,
// then run through the service (service_run.h) or, unprovisioned, in this process
// (local_run.h), and map the outcome to an exit status.
#include <windows.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/paths/path_rules.h"
#include "provision/win/handles.h"
#include "provision/win/win_util.h"
#include "runner/client/client.h"
#include "runner/client/win/local_run.h"
#include "runner/client/win/service_run.h"
#include "runner/protocol/messages.h"
#include "runner/protocol/win/pipe_stream.h"

namespace stockade::runner::client {

namespace {

namespace pw = stockade::provision::win;

RunResult Failed(int status, Error error) {
  RunResult result;
  result.exit_status = status;
  result.error = std::move(error);
  return result;
}

// The final, link-free path of an existing folder (GetFinalPathNameByHandleW), without the
// "\\?\" prefix.
Expected<std::string> RealPath(const std::string& path, const char* what) {
  pw::UniqueHandle handle(CreateFileW(pw::Wide(path).c_str(), FILE_READ_ATTRIBUTES,
                                      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                      nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr));
  if (!handle) {
    return pw::Win32Error(ErrorCode::kPathInvalid,
                          std::string(what) + " '" + path + "' cannot be opened", GetLastError());
  }
  std::wstring buffer(32768, L'\0');
  const DWORD n = GetFinalPathNameByHandleW(
      handle.get(), buffer.data(), static_cast<DWORD>(buffer.size()), FILE_NAME_NORMALIZED);
  if (n == 0 || n >= buffer.size()) {
    return pw::LastWin32Error(std::string("GetFinalPathNameByHandleW(") + what + " '" + path +
                              "')");
  }
  buffer.resize(n);
  if (buffer.rfind(L"\\\\?\\UNC\\", 0) == 0) {
    return Error(ErrorCode::kPathInvalid,
                 std::string(what) + " '" + path + "' is on a network share: not supported");
  }
  if (buffer.rfind(L"\\\\?\\", 0) == 0) buffer.erase(0, 4);
  return pw::Utf8(buffer);
}

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

Expected<std::pair<std::string, std::string>> WorkspaceAndCwd(const std::string& workspace_flag) {
  std::wstring buffer(32768, L'\0');
  const DWORD n = GetCurrentDirectoryW(static_cast<DWORD>(buffer.size()), buffer.data());
  if (n == 0) return pw::LastWin32Error("GetCurrentDirectoryW");
  buffer.resize(n);
  auto cwd = RealPath(pw::Utf8(buffer), "the current folder");
  if (!cwd.ok()) return cwd.error();
  auto workspace = RealPath(workspace_flag.empty() ? *cwd : workspace_flag, "the workspace");
  if (!workspace.ok()) return workspace.error();
  if (!paths::IsWithin(*cwd, *workspace, paths::PathStyle::kWindows)) {
    return std::make_pair(*workspace, *workspace);
  }
  return std::make_pair(*workspace, *cwd);
}

// A stream this process has no handle for (a GUI parent, `<nul`-less redirection to nothing)
// becomes the NUL device for the tree.
protocol::StdioKind KindOf(DWORD std_id) {
  const HANDLE h = GetStdHandle(std_id);
  return (h == nullptr || h == INVALID_HANDLE_VALUE) ? protocol::StdioKind::kNull
                                                     : protocol::StdioKind::kFd;
}

}  // namespace

RunResult Run(const RunOptions& options) {
  if (options.argv.empty()) {
    return Failed(kStatusUsage, Error(ErrorCode::kInvalidArgument, "no command given after --"));
  }
  if (options.identity != "offline" && options.identity != "online") {
    return Failed(kStatusUsage,
                  Error(ErrorCode::kInvalidArgument,
                        "--identity '" + options.identity + "': expected 'offline' or 'online'"));
  }
  const char* mode_env = std::getenv(kUnprovisionedEnv);
  const bool unprovisioned =
      options.unprovisioned || (mode_env != nullptr && std::string(mode_env) == "1");

  auto places = WorkspaceAndCwd(options.workspace);
  if (!places.ok()) return Failed(kStatusUsage, places.error());
  auto env = RequestEnvironment(options.env);
  if (!env.ok()) return Failed(kStatusUsage, env.error());

  int failure_status = kStatusSandbox;
  Expected<RunOutcome> outcome = Error(ErrorCode::kInternal, "not run");
  if (unprovisioned) {
    win_os::LocalRun local;
    local.identity = options.identity;
    local.workspace = places->first;
    local.cwd = places->second;
    local.argv = options.argv;
    local.env = *env;
    local.timeout = options.timeout;
    local.policy_path = options.policy_path;
    outcome = win_os::RunUnprovisioned(local, &failure_status);
  } else {
    protocol::RunRequest request;
    request.identity = options.identity;
    request.workspace = places->first;
    request.cwd = places->second;
    request.argv = options.argv;
    request.env = *env;
    request.timeout_ms = static_cast<std::uint64_t>(options.timeout.count());
    request.stdio = {KindOf(STD_INPUT_HANDLE), KindOf(STD_OUTPUT_HANDLE), KindOf(STD_ERROR_HANDLE)};
    outcome = win_os::RunThroughService(protocol::win_os::ServicePipeName(options.socket_path),
                                        request, &failure_status);
  }
  if (!outcome.ok()) return Failed(failure_status, outcome.error());
  RunResult result;
  result.exit_status = ExitStatusFor(*outcome);
  return result;
}

}  // namespace stockade::runner::client
