// runner/service/serve.h on Windows: logging, then the `Stockade` Windows service when the
// service control manager started this process, `stockaded serve` in the console otherwise
// (service_host.h).
#include "runner/service/serve.h"

#include <windows.h>

#include "core/log/logging.h"
#include "core/paths/locations.h"
#include "runner/protocol/win/pipe_stream.h"
#include "runner/service/win/service_host.h"

namespace stockade::runner::service {

Status Serve(const ServeOptions& options) {
  win_os::ServeOptions win;
  win.state_dir = options.state_dir.empty() ? paths::DefaultStateDir() : options.state_dir;
  win.policy_path = options.policy_path;
  if (!options.socket_path.empty() && !protocol::win_os::IsPipeName(options.socket_path)) {
    return Error(ErrorCode::kInvalidArgument,
                 "--socket '" + options.socket_path +
                     "': on Windows the service listens on a named pipe (\\\\.\\pipe\\<name>)");
  }
  win.pipe_name = options.socket_path;

  log::LogOptions log_options;
  log_options.program = "stockaded";
  log_options.state_dir = win.state_dir;
  log_options.stderr_level =
      options.verbose > 0 ? log::StderrLevelForVerbosity(options.verbose) : log::Level::kInfo;
  STOCKADE_RETURN_IF_ERROR(log::InitLogging(log_options));

  // Started by the SCM: a process in session 0 without a console. Only then is the dispatcher
  // tried (it takes over this thread until the service stops, and refuses at once with
  // ERROR_FAILED_SERVICE_CONTROLLER_CONNECT when the SCM did not start us). It is not tried from
  // a console: Wine's dispatcher blocks there instead of refusing.
  DWORD session = 1;
  ProcessIdToSessionId(GetCurrentProcessId(), &session);
  if (session == 0 && GetConsoleWindow() == nullptr) {
    Status as_service = win_os::RunAsWindowsService(win);
    if (as_service.ok() || as_service.error().code() != ErrorCode::kUnsupported) {
      return as_service;
    }
  }
  return win_os::ServeInConsole(win);
}

}  // namespace stockade::runner::service
