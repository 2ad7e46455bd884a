#include "runner/service/win/service_host.h"

#include <windows.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "audit/store.h"
#include "core/log/logging.h"
#include "core/paths/locations.h"
#include "core/policy/policy_loader.h"
#include "provision/win/win_util.h"
#include "runner/protocol/win/pipe_stream.h"
#include "runner/service/win/connection_handler.h"
#include "runner/service/win/pipe_server.h"
#include "runner/win/token.h"

namespace stockade::runner::service::win_os {

namespace pw = stockade::provision::win;

namespace {

// What a stop request (console event or SCM control) acts on. Set while Serve runs.
std::mutex g_mutex;
PipeServer* g_server = nullptr;
ServiceContext* g_context = nullptr;

void RequestStop() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_context != nullptr) g_context->trees.StopAll();
  if (g_server != nullptr) g_server->Stop();
}

bool RunningAsLocalSystem() {
  auto token = runner::win_os::OpenOwnToken();
  if (!token.ok()) return false;
  auto user = runner::win_os::TokenUserSid(token->get());
  auto system = pw::Sid::WellKnown(WinLocalSystemSid);
  return user.ok() && system.ok() && *user == *system;
}

// Loads everything and serves until RequestStop(). `on_running` is called once the pipe exists.
Status Serve(const ServeOptions& options, const std::function<void()>& on_running) {
  auto context = std::make_unique<ServiceContext>();
  context->state_dir = options.state_dir.empty() ? paths::DefaultStateDir() : options.state_dir;
  auto policy = LoadEffectivePolicy(options.policy_path);
  if (!policy.ok()) return policy.error().Wrap("stockaded: policy");
  context->policy = std::move(*policy);
  context->credential_file = options.credential_file;
  context->write_sid = options.write_sid;
  context->trees_in_caller_session = RunningAsLocalSystem();

  // The audit store, where the Linux service keeps it (<state>\audit\audit.db), writable by the
  // service alone. Without it no run starts (fail closed), unless the policy says
  // audit.fail_open.
  audit::StoreOptions store_options;
  store_options.path = audit::DefaultStorePath(context->state_dir);
  store_options.retention_days = static_cast<int>(context->policy.audit.retention_days);
  store_options.sync_every_batch = context->policy.audit.fsync;
  auto store = audit::Store::Open(store_options);
  if (store.ok()) {
    context->recorder = store->get();
  } else if (context->policy.audit.fail_open) {
    log::Logger()->warn(
        "the audit store {} cannot be opened; runs are NOT recorded "
        "(audit.fail_open): {}",
        store_options.path, store.error().ToString());
  } else {
    return store.error().Wrap("opening the audit store (audit is fail-closed)");
  }

  const std::string name = protocol::win_os::ServicePipeName(options.pipe_name);
  auto server = PipeServer::Create(name);
  if (!server.ok()) return server.error();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_server = server->get();
    g_context = context.get();
  }
  log::Logger()->info("stockaded serving {} (state {})", name, context->state_dir);
  if (on_running) on_running();
  ServiceContext* raw_context = context.get();
  Status served = (*server)->Serve(
      [raw_context](protocol::win_os::PipeStream& stream, const PipeClient& client) {
        HandleConnection(stream, client, *raw_context);
      });
  context->trees.StopAll();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_server = nullptr;
    g_context = nullptr;
  }
  if (store.ok()) {
    context->recorder = nullptr;
    if (Status closed = (*store)->Close(); !closed.ok()) {
      log::Logger()->error("closing the audit store: {}", closed.error().ToString());
    }
  }
  log::Logger()->info("stockaded stopped");
  return served;
}

BOOL WINAPI OnConsoleEvent(DWORD event) {
  switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      RequestStop();
      return TRUE;
    default:
      return FALSE;
  }
}

// ---- the Windows service ----

struct ServiceState {
  ServeOptions options;
  SERVICE_STATUS_HANDLE handle = nullptr;
  std::optional<Error> failure;
};
ServiceState* g_service = nullptr;  // set before the dispatcher runs, read by its threads

void Report(DWORD state, DWORD exit_code, DWORD wait_hint) {
  SERVICE_STATUS status{};
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  status.dwCurrentState = state;
  status.dwControlsAccepted =
      state == SERVICE_RUNNING ? (SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN) : 0;
  status.dwWin32ExitCode = exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  status.dwServiceSpecificExitCode = exit_code;
  status.dwWaitHint = wait_hint;
  SetServiceStatus(g_service->handle, &status);
}

DWORD WINAPI OnServiceControl(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      Report(SERVICE_STOP_PENDING, 0, 30000);
      RequestStop();  // kills every tree; Serve() then returns on the service's main thread
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI ServiceMain(DWORD, wchar_t**) {
  g_service->handle = RegisterServiceCtrlHandlerExW(kServiceName, OnServiceControl, nullptr);
  if (g_service->handle == nullptr) {
    g_service->failure = pw::LastWin32Error("RegisterServiceCtrlHandlerExW");
    return;
  }
  Report(SERVICE_START_PENDING, 0, 10000);
  Status served = Serve(g_service->options, [] { Report(SERVICE_RUNNING, 0, 0); });
  if (!served.ok()) {
    log::Logger()->error("stockaded: {}", served.error().ToString());
    g_service->failure = served.error();
  }
  // The service-specific code is the stable error code number (docs/exit-codes.md).
  Report(SERVICE_STOPPED, served.ok() ? 0 : static_cast<DWORD>(served.error().code()), 0);
}

}  // namespace

Status ServeInConsole(const ServeOptions& options) {
  if (!SetConsoleCtrlHandler(OnConsoleEvent, TRUE)) {
    return pw::LastWin32Error("SetConsoleCtrlHandler");
  }
  Status served = Serve(options, nullptr);
  SetConsoleCtrlHandler(OnConsoleEvent, FALSE);
  return served;
}

Status RunAsWindowsService(const ServeOptions& options) {
  ServiceState state;
  state.options = options;
  g_service = &state;
  wchar_t name[] = L"Stockade";
  SERVICE_TABLE_ENTRYW table[] = {{name, ServiceMain}, {nullptr, nullptr}};
  if (!StartServiceCtrlDispatcherW(table)) {
    const DWORD error = GetLastError();
    g_service = nullptr;
    if (error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      return pw::Win32Error(ErrorCode::kUnsupported,
                            "StartServiceCtrlDispatcherW: not started by the service control "
                            "manager (run `stockaded serve` in a console instead)",
                            error);
    }
    return pw::Win32Error("StartServiceCtrlDispatcherW", error);
  }
  g_service = nullptr;
  if (state.failure.has_value()) return *state.failure;
  return OkStatus();
}

}  // namespace stockade::runner::service::win_os
