// Who is on the other end of a pipe connection, as Windows vouches for it: the client's token
// (ImpersonateNamedPipeClient + OpenThreadToken, at the identification level the client allowed)
// and process id (GetNamedPipeClientProcessId). Nothing the client *says* is used to decide who
// it is.
#ifndef STOCKADE_RUNNER_SERVICE_WIN_PIPE_CLIENT_H_
#define STOCKADE_RUNNER_SERVICE_WIN_PIPE_CLIENT_H_

#include <windows.h>

#include <string>

#include "core/error.h"
#include "provision/win/sid.h"

namespace stockade::runner::service::win_os {

using provision::win::Sid;

struct PipeClient {
  Sid user;                 // the token's user SID
  std::string user_name;    // DOMAIN\name, for messages and logs ("" when LSA knows no name)
  DWORD pid = 0;            // the client process
  DWORD session_id = 0;     // its terminal-services session (where its tree's console goes)
  bool restricted = false;  // a restricted token: a sandboxed tree, refused by the broker
  bool network = false;     // the token carries the NETWORK SID: a remote logon, refused
};

// Identifies the client of the connected server end `pipe`. The impersonation is undone before
// returning, whatever happens. Errors: kOs naming the API (ImpersonateNamedPipeClient,
// OpenThreadToken, GetNamedPipeClientProcessId), kPermissionDenied when the client connected
// anonymously (no token to read).
Expected<PipeClient> IdentifyPipeClient(HANDLE pipe);

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_PIPE_CLIENT_H_
