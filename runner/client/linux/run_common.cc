// RunClient: prepare the stdio (a pty for the streams that are terminals), start the tree
// through the service (or locally, unprovisioned, through the given starter), put the user's
// terminal in raw mode, relay until the tree is gone, map the outcome to an exit status. Nothing
// here refers to the unprovisioned launcher, so that the lean `stockade` executable links this
// file without the launcher, the policy loader and their libraries
// (cli/linux/stockade_lean_main.cc).
#include "runner/client/linux/run_common.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/paths/locations.h"
#include "runner/client/client.h"
#include "runner/client/linux/relay.h"
#include "runner/client/linux/service_session.h"
#include "runner/client/linux/signals.h"
#include "runner/client/linux/terminal.h"
#include "runner/client/linux/unprovisioned.h"
#include "runner/protocol/endpoint.h"
#include "runner/protocol/messages.h"

extern char** environ;

namespace stockade::runner::client::linux_os {

namespace {

RunResult Failed(int status, Error error) {
  RunResult result;
  result.exit_status = status;
  result.error = std::move(error);
  return result;
}

Expected<std::string> RealPath(const std::string& path, const char* what) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return ErrnoError(ErrorCode::kPathInvalid,
                      std::string(what) + " '" + path + "' cannot be resolved", errno);
  }
  return std::string(resolved);
}

bool IsInside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

// Variables of the caller that describe the terminal and the locale, not the caller: the rest
// of the environment (tokens, keys, agent credentials) never reaches the tree unless passed
// with --env.
bool PassedThrough(const char* entry) {
  static const char* const kNames[] = {
      "PATH=", "TERM=", "COLORTERM=", "LANG=", "LANGUAGE=", "TZ=", "NO_COLOR="};
  for (const char* name : kNames) {
    if (std::strncmp(entry, name, std::strlen(name)) == 0) return true;
  }
  return std::strncmp(entry, "LC_", 3) == 0;
}

Expected<std::vector<std::string>> RequestEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (PassedThrough(*e)) env.emplace_back(*e);
  }
  for (const std::string& entry : extra) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || entry.find('\0') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "--env '" + entry + "': expected NAME=VALUE with a non-empty NAME");
    }
    // A later value of the same name replaces an earlier one (--env wins over the caller's).
    const std::string prefix = entry.substr(0, eq + 1);
    std::erase_if(env,
                  [&](const std::string& e) { return e.compare(0, prefix.size(), prefix) == 0; });
    env.push_back(entry);
  }
  return env;
}

// The workspace (resolved), and the working folder: the current one when it lies inside the
// workspace, else the workspace itself.
Expected<std::pair<std::string, std::string>> WorkspaceAndCwd(const std::string& workspace_flag) {
  char cwd_buffer[PATH_MAX];
  if (::getcwd(cwd_buffer, sizeof(cwd_buffer)) == nullptr) {
    return ErrnoError(ErrorCode::kPathInvalid, "the current folder cannot be resolved", errno);
  }
  auto cwd = RealPath(cwd_buffer, "the current folder");
  if (!cwd.ok()) return cwd.error();
  auto workspace = RealPath(workspace_flag.empty() ? *cwd : workspace_flag, "the workspace");
  if (!workspace.ok()) return workspace.error();
  if (!IsInside(*cwd, *workspace)) return std::make_pair(*workspace, *workspace);
  return std::make_pair(*workspace, *cwd);
}

}  // namespace

RunResult RunClient(const RunOptions& options, StartLocalFn start_local) {
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
      options.unprovisioned || (mode_env != nullptr && std::strcmp(mode_env, "1") == 0);
  if (unprovisioned && start_local == nullptr) {
    return Failed(kStatusUsage, Error(ErrorCode::kUnsupported,
                                      "the unprovisioned mode is not built into this "
                                      "executable"));
  }

  auto places = WorkspaceAndCwd(options.workspace);
  if (!places.ok()) return Failed(kStatusUsage, places.error());
  auto env = RequestEnvironment(options.env);
  if (!env.ok()) return Failed(kStatusUsage, env.error());

  auto stdio = PrepareStdio();
  if (!stdio.ok()) return Failed(kStatusSandbox, stdio.error().Wrap("stockade run: terminal"));
  StdioPlan& plan = *stdio;
  // A stream the caller closed (`<&-`) becomes /dev/null for the tree.
  std::array<protocol::StdioKind, 3> kinds{};
  std::vector<int> pass;
  for (int i = 0; i < 3; ++i) {
    const bool open = ::fcntl(plan.pass[i], F_GETFD) >= 0;
    kinds[static_cast<std::size_t>(i)] =
        open ? protocol::StdioKind::kFd : protocol::StdioKind::kNull;
    if (open) pass.push_back(plan.pass[i]);
  }

  // Installed before the tree starts, so that a Ctrl-C from this moment on kills it.
  auto signals = SignalPipe::Install();
  if (!signals.ok()) return Failed(kStatusSandbox, signals.error());

  std::unique_ptr<TreeSession> session;
  int failure_status = kStatusSandbox;
  ServiceSession* service = nullptr;
  if (unprovisioned) {
    LocalRun local;
    local.identity = options.identity;
    local.workspace = places->first;
    local.cwd = places->second;
    local.argv = options.argv;
    local.env = *env;
    local.timeout = options.timeout;
    local.policy_path = options.policy_path;
    for (int i = 0; i < 3; ++i) {
      local.stdio[i] =
          kinds[static_cast<std::size_t>(i)] == protocol::StdioKind::kFd ? plan.pass[i] : -1;
    }
    local.controlling_tty = plan.has_pty() ? plan.slave.get() : -1;
    auto started = start_local(local, &failure_status);
    if (!started.ok()) return Failed(failure_status, started.error());
    session = std::move(*started);
  } else {
    protocol::RunRequest request;
    request.identity = options.identity;
    request.workspace = places->first;
    request.cwd = places->second;
    request.argv = options.argv;
    request.env = *env;
    request.timeout_ms = static_cast<std::uint64_t>(options.timeout.count());
    if (plan.has_pty()) request.tty = protocol::TtySize{plan.rows, plan.cols};
    request.stdio = kinds;
    std::string state_dir =
        options.state_dir.empty() ? paths::DefaultStateDir() : options.state_dir;
    const std::string socket = protocol::ServiceSocketPath(options.socket_path, state_dir);
    auto started = ServiceSession::Start(socket, request, pass);
    if (!started.ok()) {
      const int status =
          started.error().code() == ErrorCode::kServiceUnavailable
              ? kStatusUnavailable
              : (started.error().code() == ErrorCode::kPathInvalid ? kStatusUsage : kStatusSandbox);
      return Failed(status, started.error());
    }
    service = started->get();
    session = std::move(*started);
  }
  // The tree (or the descriptor in flight to the service) holds the slave now; the pty reports
  // EOF to the relay once every holder inside the tree has closed it.
  plan.slave.Reset();

  std::optional<RawMode> raw;
  if (plan.stdin_is_tty) {
    auto entered = RawMode::Enter(0);
    // Not fatal: the run goes on with a cooked terminal (^C then reaches us as SIGINT).
    if (entered.ok()) raw.emplace(std::move(*entered));
  }
  RelayIo io;
  if (plan.has_pty()) {
    io.master = plan.master.get();
    io.user_in = plan.stdin_is_tty ? 0 : -1;
    io.user_out = plan.output_fd;
    io.winsize_from = plan.user_tty;
    io.raw = raw ? &*raw : nullptr;
  }
  auto outcome = Relay(*session, *signals, io);
  raw.reset();  // the user's terminal back before anything is printed
  if (!outcome.ok()) {
    if (service != nullptr) failure_status = service->failure_status();
    return Failed(failure_status, outcome.error());
  }
  RunResult result;
  result.exit_status = ExitStatusFor(*outcome);
  return result;
}

RunResult RunThroughService(const RunOptions& options) { return RunClient(options, nullptr); }

}  // namespace stockade::runner::client::linux_os
