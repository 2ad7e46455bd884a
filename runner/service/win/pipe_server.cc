#include "runner/service/win/pipe_server.h"

#include <sddl.h>

#include <chrono>
#include <thread>

#include "core/log/logging.h"
#include "provision/win/win_util.h"

namespace stockade::runner::service::win_os {

namespace pw = stockade::provision::win;

Expected<SecurityDescriptor> SecurityDescriptor::FromSddl(const std::string& sddl) {
  PSECURITY_DESCRIPTOR raw = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(pw::Wide(sddl).c_str(), SDDL_REVISION_1,
                                                            &raw, nullptr)) {
    return pw::Win32Error(ErrorCode::kInvalidArgument,
                          "ConvertStringSecurityDescriptorToSecurityDescriptorW(" + sddl + ")",
                          GetLastError());
  }
  SecurityDescriptor descriptor;
  descriptor.descriptor_.reset(raw);
  return descriptor;
}

Expected<std::unique_ptr<PipeServer>> PipeServer::Create(const std::string& name,
                                                         const std::string& sddl) {
  if (!protocol::win_os::IsPipeName(name)) {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + name + "' is not a pipe name (\\\\.\\pipe\\...)");
  }
  std::unique_ptr<PipeServer> server(new PipeServer());
  server->name_ = name;
  server->sddl_ = sddl;
  server->stop_.reset(CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!server->stop_) return pw::LastWin32Error("CreateEventW(stop)");
  auto first = server->NewInstance(true);
  if (!first.ok()) return first.error();
  server->next_ = std::move(*first);
  return server;
}

PipeServer::~PipeServer() { Stop(); }

Expected<UniqueHandle> PipeServer::NewInstance(bool first) {
  auto descriptor = SecurityDescriptor::FromSddl(sddl_);
  if (!descriptor.ok()) return descriptor.error();
  SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), descriptor->get(), FALSE};
  const DWORD open_mode =
      PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  UniqueHandle pipe(
      CreateNamedPipeW(pw::Wide(name_).c_str(), open_mode,
                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                       PIPE_UNLIMITED_INSTANCES, 64 * 1024, 64 * 1024, 0, &attributes));
  if (!pipe) {
    const DWORD error = GetLastError();
    if (first && (error == ERROR_ACCESS_DENIED || error == ERROR_PIPE_BUSY)) {
      return pw::Win32Error(ErrorCode::kAlreadyExists,
                            "CreateNamedPipeW(" + name_ +
                                "): the name is already served by "
                                "another process (another Stockade service, or a program squatting "
                                "on it)",
                            error);
    }
    return pw::Win32Error("CreateNamedPipeW(" + name_ + ")", error);
  }
  return pipe;
}

Status PipeServer::Serve(const ConnectionHandler& handler) {
  UniqueHandle connected_event(CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!connected_event) return pw::LastWin32Error("CreateEventW(connect)");
  Status result;
  while (true) {
    if (!next_) {
      auto instance = NewInstance(false);
      if (!instance.ok()) {
        result = instance.error();
        break;
      }
      next_ = std::move(*instance);
    }
    OVERLAPPED overlapped{};
    ResetEvent(connected_event.get());
    overlapped.hEvent = connected_event.get();
    bool connected = false;
    if (ConnectNamedPipe(next_.get(), &overlapped)) {
      connected = true;
    } else {
      const DWORD error = GetLastError();
      if (error == ERROR_PIPE_CONNECTED) {
        connected = true;
      } else if (error != ERROR_IO_PENDING) {
        result = pw::Win32Error("ConnectNamedPipe(" + name_ + ")", error);
        break;
      }
    }
    if (!connected) {
      HANDLE events[2] = {connected_event.get(), stop_.get()};
      const DWORD which = WaitForMultipleObjects(2, events, FALSE, INFINITE);
      if (which != WAIT_OBJECT_0) {
        CancelIoEx(next_.get(), &overlapped);
        DWORD ignored = 0;
        GetOverlappedResult(next_.get(), &overlapped, &ignored, TRUE);
        break;  // stopped
      }
      DWORD ignored = 0;
      if (!GetOverlappedResult(next_.get(), &overlapped, &ignored, FALSE)) {
        // The client went away between connecting and now: drop this instance, make another.
        next_.reset();
        continue;
      }
    }
    UniqueHandle pipe = std::move(next_);
    const HANDLE raw = pipe.get();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.insert(raw);
      ++active_;
    }
    // Detached: a long-running service must not accumulate finished threads; Serve() waits for
    // `active_` to drop to zero instead of joining.
    std::thread([this, &handler, pipe = std::move(pipe)]() mutable {
      const HANDLE handle = pipe.get();
      auto client = IdentifyPipeClient(handle);
      if (!client.ok()) {
        log::Logger()->warn("refusing a pipe client that cannot be identified: {}",
                            client.error().ToString());
      } else {
        PipeStream stream(std::move(pipe));
        handler(stream, *client);
        FlushFileBuffers(stream.handle());
        DisconnectNamedPipe(stream.handle());
      }
      std::lock_guard<std::mutex> lock(mutex_);
      live_.erase(handle);
      --active_;
      idle_.notify_all();
    }).detach();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  for (const HANDLE h : live_) CancelIoEx(h, nullptr);
  // Connections end once their trees are gone (the caller kills them before or after Stop()).
  while (active_ > 0) {
    if (idle_.wait_for(lock, std::chrono::seconds(1)) == std::cv_status::timeout) {
      for (const HANDLE h : live_) CancelIoEx(h, nullptr);
    }
  }
  return result;
}

void PipeServer::Stop() {
  if (stop_) SetEvent(stop_.get());
}

}  // namespace stockade::runner::service::win_os
