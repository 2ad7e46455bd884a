// `stockaded` on Windows: the `Stockade` Windows service (LocalSystem, started by the SCM) and
// `stockaded serve` in a console. Both serve the pipe endpoint (pipe_server.h) with the
// connection handler (connection_handler.h) until told to stop -- an SCM stop or shutdown, or
// Ctrl-C / Ctrl-Break / closing the console -- and then kill every running tree before
// returning.
#ifndef STOCKADE_RUNNER_SERVICE_WIN_SERVICE_HOST_H_
#define STOCKADE_RUNNER_SERVICE_WIN_SERVICE_HOST_H_

#include <string>

#include "core/error.h"

namespace stockade::runner::service::win_os {

// The service's name in the SCM (provision/win/service_step.h installs it under this name).
inline constexpr wchar_t kServiceName[] = L"Stockade";

struct ServeOptions {
  std::string state_dir;        // "" = paths::DefaultStateDir()
  std::string policy_path;      // "" = $STOCKADE_POLICY or the default location (embedded default)
  std::string pipe_name;        // "" = ServicePipeName("") (\\.\pipe\stockade or $STOCKADE_SOCKET)
  std::string credential_file;  // "" = <state_dir>\credentials.bin
  std::string write_sid;        // "" = the persisted one
};

// Serves in the foreground until Ctrl-C/Ctrl-Break/console close, then kills every tree.
// Errors: the policy loader's; PipeServer::Create's (kAlreadyExists when the pipe name is
// taken); PipeServer::Serve's.
Status ServeInConsole(const ServeOptions& options);

// Hands the process to the SCM (StartServiceCtrlDispatcherW) and serves as the `Stockade`
// service: SERVICE_RUNNING once the pipe is up, SERVICE_STOP_PENDING on a stop or shutdown
// control (every tree killed), SERVICE_STOPPED with a service-specific exit code when serving
// failed. Returns when the service has stopped.
// Errors: kUnsupported when the process was not started by the SCM
// (ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: run `stockaded serve` in a console instead); the
// error the service stopped with otherwise.
Status RunAsWindowsService(const ServeOptions& options);

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_SERVICE_HOST_H_
