// A run through the Stockade service on Windows: connect to its pipe, send the RunRequest, wait
// for Started, connect the tree's stdio pipes (protocol/win/pipe_stream.h: StdioPipeName) and
// relay between them and this process's own stdio, forward Ctrl-C as a Signal message, and
// return how the tree ended (Exit) or why the service refused (Error). The service enforces the
// timeout and kills the whole tree on a Signal or when this connection closes (the client
// killed). The user's console handles are never given to the service or the tree: only bytes
// cross, through pipes the service made for this caller alone.
#ifndef STOCKADE_RUNNER_CLIENT_WIN_SERVICE_RUN_H_
#define STOCKADE_RUNNER_CLIENT_WIN_SERVICE_RUN_H_

#include <string>

#include "core/error.h"
#include "runner/client/client.h"
#include "runner/protocol/messages.h"

namespace stockade::runner::client::win_os {

// Appended to an unreachable service's error: how to start it, or how to do without.
extern const char kUnavailableHint[];

// Errors: kServiceUnavailable (status 8) when nothing serves `pipe_name`; the service's Error
// reply as an Error with its code (status from ExitStatusForServiceError); kProtocol / kIo when
// the connection breaks (125). *failure_status receives the status for the error.
Expected<RunOutcome> RunThroughService(const std::string& pipe_name,
                                       const protocol::RunRequest& request, int* failure_status);

}  // namespace stockade::runner::client::win_os

#endif  // STOCKADE_RUNNER_CLIENT_WIN_SERVICE_RUN_H_
