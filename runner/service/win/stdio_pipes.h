// The per-session pipes that carry a tree's stdio between the Windows service and its client
// (docs/protocol.md, "Windows").
#ifndef STOCKADE_RUNNER_SERVICE_WIN_STDIO_PIPES_H_
#define STOCKADE_RUNNER_SERVICE_WIN_STDIO_PIPES_H_

#include <windows.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/win/handles.h"
#include "provision/win/sid.h"

namespace stockade::runner::service::win_os {

using provision::win::Sid;
using provision::win::UniqueHandle;

// The server end of stdio pipe `index` (0 stdin, 1 stdout, 2 stderr) of `session`, named
// StdioPipeName(session, index). Duplex, although each carries bytes one way (the client opens
// stdin write-only and the others read-only): SetNamedPipeHandleState, needed to leave no-wait
// mode, wants write access on the server end, which an inbound pipe's server end lacks.
// Synchronous (the tree's C runtime reads and writes it without
// OVERLAPPED), one instance (FILE_FLAG_FIRST_PIPE_INSTANCE), local only, DACL = SYSTEM and
// `caller` alone, and in PIPE_NOWAIT mode until WaitForClients has seen its client.
// Errors: kOs naming CreateNamedPipeW and the name.
Expected<UniqueHandle> MakeStdioPipe(const std::string& session, int index, const Sid& caller);

// Polls each pipe (ConnectNamedPipe in no-wait mode answers at once) until its client is
// connected, then puts it in blocking mode for the tree. Errors: kTimeout when a client is still
// missing after `timeout`; kOs naming ConnectNamedPipe / SetNamedPipeHandleState.
Status WaitForClients(const std::vector<HANDLE>& pipes, std::chrono::milliseconds timeout);

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_STDIO_PIPES_H_
