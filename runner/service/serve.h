// `stockaded serve`: runs the service in the foreground until it is told to stop (SIGTERM,
// SIGINT; the Windows service control manager on Windows). The cli parses the options; this
// loads the policy, sets up logging, and runs the OS's server (runner/service/<os>/).
#ifndef STOCKADE_RUNNER_SERVICE_SERVE_H_
#define STOCKADE_RUNNER_SERVICE_SERVE_H_

#include <string>

#include "core/error.h"

namespace stockade::runner::service {

struct ServeOptions {
  std::string state_dir;    // "" = $STOCKADE_STATE_DIR, else the platform default
  std::string policy_path;  // "" = $STOCKADE_POLICY, else the default location, else embedded
  std::string socket_path;  // "" = $STOCKADE_SOCKET, else <state_dir>/stockaded.sock
  int verbose = 0;          // stderr log threshold (count of --verbose)
};

// Serves until stopped; OK after an orderly stop. On Linux it also starts the kernel audit
// capture (runs are refused with E_AUDIT_UNAVAILABLE while it cannot run, unless audit.fail_open;
// the kernel audit configuration is put back at stop) and makes the service the trees' child
// subreaper (docs/runner-service.md, "Audit and orphans"). Errors: the policy's (kPolicy*),
// logging's (kIo), the server's (kNotElevated, kAlreadyExists, kIo naming the socket).
Status Serve(const ServeOptions& options);

}  // namespace stockade::runner::service

#endif  // STOCKADE_RUNNER_SERVICE_SERVE_H_
