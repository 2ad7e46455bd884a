// Run() on Windows: resolve the workspace and working folder, choose the environment to pass,
// then run through the service (service_run.h) or, unprovisioned, in this process
// (local_run.h), and map the outcome to an exit status.
#include <windows.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/paths/path_rules.h"
#include "provision/win/handles.h"
#include "provision/win/win_util.h"
#include "runner/client/client.h"
#include "runner/client/win/console_relay.h"
#include "runner/client/win/environment.h"
#include "runner/client/win/local_run.h"
#include "runner/client/win/service_run.h"
#include "runner/protocol/messages.h"
#include "runner/protocol/win/pipe_stream.h"
#include "runner/win/pseudo_console.h"

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
  auto env = win_os::RequestEnvironment(options.env);
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
    // A console on stdin and stdout: ask for a pseudoconsole of this window's size; the tree's
    // stderr then goes to the same screen (a terminal has one output).
    if (win_os::IsConsolePair(GetStdHandle(STD_INPUT_HANDLE), GetStdHandle(STD_OUTPUT_HANDLE)) &&
        runner::win_os::PseudoConsoleSupported()) {
      if (auto size = win_os::ConsoleWindowSize(GetStdHandle(STD_OUTPUT_HANDLE)); size.ok()) {
        request.tty =
            protocol::TtySize{static_cast<std::uint16_t>(std::clamp(size->rows, 1, 65535)),
                              static_cast<std::uint16_t>(std::clamp(size->cols, 1, 65535))};
        request.stdio[2] = protocol::StdioKind::kNull;
      }
    }
    outcome = win_os::RunThroughService(protocol::win_os::ServicePipeName(options.socket_path),
                                        request, &failure_status);
  }
  if (!outcome.ok()) return Failed(failure_status, outcome.error());
  RunResult result;
  result.exit_status = ExitStatusFor(*outcome);
  return result;
}

}  // namespace stockade::runner::client
