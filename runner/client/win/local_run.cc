#include "runner/client/win/local_run.h"

#include <windows.h>

#include <filesystem>
#include <system_error>

#include "core/crypto/random.h"
#include "core/paths/locations.h"
#include "core/policy/policy_loader.h"
#include "provision/win/win_util.h"
#include "runner/client/win/interrupt.h"
#include "runner/service/spec_builder.h"
#include "runner/win/launcher.h"

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

Expected<RunOutcome> RunUnprovisioned(const LocalRun& run, int* failure_status) {
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

  // The tree shares this console: interactive programs work as they would here. (The weaker
  // guarantee that implies is listed in UnprovisionedLimitsText.)
  runner::win_os::LaunchOptions options;
  options.stdin_handle = GetStdHandle(STD_INPUT_HANDLE);
  options.stdout_handle = GetStdHandle(STD_OUTPUT_HANDLE);
  options.stderr_handle = GetStdHandle(STD_ERROR_HANDLE);
  auto tree = runner::win_os::ProcessTree::Launch(*spec, options);
  if (!tree.ok()) {
    *failure_status = StatusForLaunchError(tree.error());
    return tree.error().Wrap("unprovisioned mode");
  }
  runner::win_os::ProcessTree* live = &*tree;
  auto interrupts = InterruptScope::Install([live](int) { (void)live->Kill(); });
  if (!interrupts.ok()) {
    (void)tree->Kill();
    (void)tree->Wait();
    return interrupts.error();
  }
  auto status = tree->Wait();
  if (!status.ok()) return status.error();
  RunOutcome outcome;
  outcome.code = status->code;
  outcome.timed_out = status->timed_out;
  outcome.killed = status->killed;
  outcome.client_signal = InterruptScope::Received();
  return outcome;
}

}  // namespace stockade::runner::client::win_os
