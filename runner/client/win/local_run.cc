#include "runner/client/win/local_run.h"

#include <windows.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>

#include "core/crypto/random.h"
#include "core/paths/locations.h"
#include "core/policy/policy_loader.h"
#include "provision/win/win_util.h"
#include "runner/client/win/console_relay.h"
#include "runner/client/win/interrupt.h"
#include "runner/service/spec_builder.h"
#include "runner/win/launcher.h"
#include "runner/win/pseudo_console.h"

namespace stockade::runner::client::win_os {

namespace pw = stockade::provision::win;

namespace {

std::string CurrentUserName() {
  wchar_t name[256];
  DWORD size = 256;
  return GetUserNameW(name, &size) ? pw::Utf8(name) : std::string("the current user");
}

// <temp>\stockade-run-<12 hex digits>, created new (never an existing folder).
Expected<std::string> MakeRunTemp() {
  auto base = paths::TempDir();
  if (!base.ok()) return base.error();
  std::string dir = *base;
  while (dir.size() > 3 && (dir.back() == '\\' || dir.back() == '/')) dir.pop_back();
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto hex = crypto::RandomHex(6);
    if (!hex.ok()) return hex.error();
    const std::string path = dir + "\\stockade-run-" + *hex;
    if (CreateDirectoryW(pw::Wide(path).c_str(), nullptr)) return path;
    if (GetLastError() != ERROR_ALREADY_EXISTS) {
      return pw::LastWin32Error("CreateDirectoryW(" + path + ") for the run's temp folder");
    }
  }
  return Error(ErrorCode::kIo, "no unused name for the run's temp folder under " + dir);
}

// Which exit status a failed launch stands for.
int StatusForLaunchError(const Error& error) {
  if (error.code() == ErrorCode::kNotFound &&
      error.context().find("program '") != std::string::npos) {
    return kStatusNotFound;
  }
  if (error.context().find("CreateProcess") != std::string::npos &&
      (error.os_error() == ERROR_BAD_EXE_FORMAT || error.os_error() == ERROR_ACCESS_DENIED ||
       error.os_error() == ERROR_EXE_MACHINE_TYPE_MISMATCH)) {
    return kStatusNotExecutable;
  }
  if (error.code() == ErrorCode::kUnsupported) return kStatusNotExecutable;  // a batch file
  return kStatusSandbox;
}

}  // namespace

Expected<RunOutcome> RunUnprovisioned(const LocalRun& run, int* failure_status,
                                      std::vector<std::string>* token_unverified) {
  *failure_status = kStatusSandbox;
  auto kind = service::ParseIdentityKind(run.identity);
  if (!kind.ok()) {
    *failure_status = kStatusUsage;
    return kind.error();
  }
  auto policy = LoadEffectivePolicy(run.policy_path);
  if (!policy.ok()) return policy.error().Wrap("unprovisioned mode: policy");
  auto home = paths::CurrentUserHome();
  if (!home.ok()) return home.error().Wrap("unprovisioned mode: your home folder");
  auto temp = MakeRunTemp();
  if (!temp.ok()) return temp.error().Wrap("unprovisioned mode");
  // The temp folder goes whatever happens below.
  struct RemoveTemp {
    std::string path;
    ~RemoveTemp() {
      std::error_code ignored;
      std::filesystem::remove_all(std::filesystem::path(pw::Wide(path)), ignored);
    }
  } remove_temp{*temp};

  service::SpecInputs inputs;
  inputs.kind = *kind;
  inputs.identity.same_user = true;
  inputs.identity.name = CurrentUserName();
  inputs.workspace = run.workspace;
  inputs.cwd = run.cwd;
  inputs.temp = *temp;
  inputs.home = *home;
  inputs.argv = run.argv;
  inputs.env = run.env;
  inputs.env.push_back("TMP=" + *temp);
  inputs.env.push_back("TEMP=" + *temp);
  inputs.timeout = run.timeout;
  inputs.style = paths::PathStyle::kWindows;
  auto spec = service::BuildLaunchSpec(*policy, inputs);
  if (!spec.ok()) return spec.error().Wrap("unprovisioned mode: the policy's sandbox");

  // The tree gets this process's stdio: pipes and files as they are; a console through a
  // pseudoconsole of its own (below), so that it can never write into or read from the user's
  // console directly.
  runner::win_os::LaunchOptions options;
  const bool own_stdio =
      run.stdin_handle == nullptr && run.stdout_handle == nullptr && run.stderr_handle == nullptr;
  options.stdin_handle = own_stdio ? GetStdHandle(STD_INPUT_HANDLE) : run.stdin_handle;
  options.stdout_handle = own_stdio ? GetStdHandle(STD_OUTPUT_HANDLE) : run.stdout_handle;
  options.stderr_handle = own_stdio ? GetStdHandle(STD_ERROR_HANDLE) : run.stderr_handle;
  options.token_check = run.token_check;

  // A console on both stdin and stdout: the tree gets a pseudoconsole, so that interactive and
  // full-screen programs work (console_relay.h). Declared in this order so that, on every path
  // out, the relay stops before the pseudoconsole closes and the console modes come back last.
  std::optional<ConsoleVtMode> vt_mode;
  std::optional<runner::win_os::PseudoConsole> pty;
  std::mutex pty_mutex;  // Resize (the relay's input thread) against Close (this thread)
  std::unique_ptr<ConsoleRelay> relay;
  if (own_stdio && IsConsolePair(options.stdin_handle, options.stdout_handle) &&
      runner::win_os::PseudoConsoleSupported()) {
    auto size = ConsoleWindowSize(options.stdout_handle);
    if (!size.ok()) return size.error().Wrap("unprovisioned mode: the console's size");
    auto created = runner::win_os::PseudoConsole::Create(size->cols, size->rows);
    if (!created.ok()) return created.error().Wrap("unprovisioned mode: the pseudoconsole");
    pty = std::move(*created);
    auto vt = ConsoleVtMode::Enable(options.stdin_handle, options.stdout_handle);
    if (!vt.ok()) return vt.error().Wrap("unprovisioned mode: VT mode for the console");
    vt_mode.emplace(std::move(*vt));
    options.pseudo_console = pty->get();
  }

  auto tree = runner::win_os::ProcessTree::Launch(*spec, options);
  if (!tree.ok()) {
    *failure_status = StatusForLaunchError(tree.error());
    return tree.error().Wrap("unprovisioned mode");
  }
  if (token_unverified != nullptr) *token_unverified = tree->token_unverified();
  if (pty.has_value()) {
    runner::win_os::PseudoConsole* console = &*pty;
    relay = std::make_unique<ConsoleRelay>(options.stdin_handle, options.stdout_handle,
                                           pty->input_writer(), pty->output_reader(),
                                           [console, &pty_mutex](ConsoleSize size) {
                                             std::lock_guard<std::mutex> lock(pty_mutex);
                                             (void)console->Resize(size.cols, size.rows);
                                           });
  }
  runner::win_os::ProcessTree* live = &*tree;
  auto interrupts = InterruptScope::Install([live](int) { (void)live->Kill(); });
  if (!interrupts.ok()) {
    (void)tree->Kill();
    (void)tree->Wait();
    return interrupts.error();
  }
  auto status = tree->Wait();
  if (pty.has_value()) {
    // ClosePseudoConsole may block until its output is drained (before Windows 11 24H2): the
    // relay's output thread keeps reading meanwhile, then sees the end of the output.
    {
      std::lock_guard<std::mutex> lock(pty_mutex);
      pty->Close();
    }
    relay->WaitOutput(5000);
    relay.reset();
  }
  if (!status.ok()) return status.error();
  RunOutcome outcome;
  outcome.code = status->code;
  outcome.timed_out = status->timed_out;
  outcome.killed = status->killed;
  outcome.client_signal = InterruptScope::Received();
  return outcome;
}

}  // namespace stockade::runner::client::win_os
