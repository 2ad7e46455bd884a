#include "runner/service/win/pipe_client.h"

#include <cstdint>
#include <vector>

#include "provision/win/handles.h"
#include "provision/win/win_util.h"
#include "runner/win/token.h"

namespace stockade::runner::service::win_os {

namespace pw = stockade::provision::win;

namespace {

// Undoes ImpersonateNamedPipeClient when the scope ends.
struct RevertOnExit {
  ~RevertOnExit() { RevertToSelf(); }
};

Expected<bool> HasGroup(HANDLE token, const Sid& group) {
  BOOL member = FALSE;
  // CheckTokenMembership wants an impersonation token: the thread token we hold is one.
  if (!CheckTokenMembership(token, group.get(), &member)) {
    return pw::LastWin32Error("CheckTokenMembership(" + group.ToString() + ")");
  }
  return member != FALSE;
}

}  // namespace

Expected<PipeClient> IdentifyPipeClient(HANDLE pipe) {
  ULONG pid = 0;
  if (!GetNamedPipeClientProcessId(pipe, &pid)) {
    return pw::LastWin32Error("GetNamedPipeClientProcessId");
  }

  pw::UniqueHandle token;
  {
    if (!ImpersonateNamedPipeClient(pipe)) {
      return pw::LastWin32Error("ImpersonateNamedPipeClient(pid " + std::to_string(pid) + ")");
    }
    RevertOnExit revert;
    if (!OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, token.put())) {
      const DWORD error = GetLastError();
      if (error == ERROR_CANT_OPEN_ANONYMOUS) {
        return pw::Win32Error(ErrorCode::kPermissionDenied,
                              "the pipe client (pid " + std::to_string(pid) + ") is anonymous",
                              error);
      }
      return pw::Win32Error("OpenThreadToken(pipe client pid " + std::to_string(pid) + ")", error);
    }
  }  // back to the service's own identity before anything else runs

  auto user = runner::win_os::TokenUserSid(token.get());
  if (!user.ok()) return user.error();
  PipeClient client{*user, "", 0, 0, false, false};
  client.pid = pid;
  if (auto account = pw::LookupAccountBySid(client.user); account.ok() && account->has_value()) {
    client.user_name = (*account)->domain + "\\" + (*account)->name;
  }
  DWORD session = 0;
  DWORD size = 0;
  if (!GetTokenInformation(token.get(), TokenSessionId, &session, sizeof session, &size)) {
    return pw::LastWin32Error("GetTokenInformation(pipe client session)");
  }
  client.session_id = session;
  client.restricted = IsTokenRestricted(token.get()) != FALSE;
  auto network_sid = Sid::WellKnown(WinNetworkSid);
  if (!network_sid.ok()) return network_sid.error();
  auto network = HasGroup(token.get(), *network_sid);
  if (!network.ok()) return network.error();
  client.network = *network;
  return client;
}

}  // namespace stockade::runner::service::win_os
