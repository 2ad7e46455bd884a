#include "runner/service/win/stdio_pipes.h"

#include <thread>

#include "provision/win/win_util.h"
#include "runner/protocol/win/pipe_stream.h"
#include "runner/service/win/pipe_server.h"

namespace stockade::runner::service::win_os {

namespace pw = stockade::provision::win;

Expected<UniqueHandle> MakeStdioPipe(const std::string& session, int index, const Sid& caller) {
  const std::string sddl = "D:P(A;;GA;;;SY)(A;;0x0012019f;;;" + caller.ToString() + ")";
  auto descriptor = SecurityDescriptor::FromSddl(sddl);
  if (!descriptor.ok()) return descriptor.error();
  SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), descriptor->get(), FALSE};
  const std::string name = protocol::win_os::StdioPipeName(session, index);
  UniqueHandle pipe(CreateNamedPipeW(
      pw::Wide(name).c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_NOWAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 64 * 1024,
      64 * 1024, 0, &attributes));
  if (!pipe) return pw::LastWin32Error("CreateNamedPipeW(" + name + ")");
  return pipe;
}

Status WaitForClients(const std::vector<HANDLE>& pipes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const HANDLE pipe : pipes) {
    while (true) {
      // In no-wait mode a TRUE answer only means "ready for a client"; the state is in the error:
      // PIPE_CONNECTED, or NO_DATA when the client connected and already closed its end.
      const DWORD error = ConnectNamedPipe(pipe, nullptr) ? ERROR_PIPE_LISTENING : GetLastError();
      if (error == ERROR_PIPE_CONNECTED || error == ERROR_NO_DATA) break;
      if (error != ERROR_PIPE_LISTENING) {
        return pw::Win32Error("ConnectNamedPipe(stdio)", error);
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return Error(ErrorCode::kTimeout,
                     "the client did not connect the tree's stdio pipes "
                     "within " +
                         std::to_string(timeout.count()) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    DWORD mode = PIPE_READMODE_BYTE | PIPE_WAIT;
    if (!SetNamedPipeHandleState(pipe, &mode, nullptr, nullptr)) {
      return pw::LastWin32Error("SetNamedPipeHandleState(stdio, PIPE_WAIT)");
    }
  }
  return OkStatus();
}

}  // namespace stockade::runner::service::win_os
