// The service's endpoint on Windows: the named pipe "\\.\pipe\stockade" (overridable), many
// instances, one thread per connection.
//
// Who may connect is decided by the pipe's DACL before any byte is read:
//   deny NETWORK (and PIPE_REJECT_REMOTE_CLIENTS), allow LocalSystem and Administrators,
//   allow INTERACTIVE users read + FILE_WRITE_DATA only -- not FILE_APPEND_DATA, which on a pipe
//   is FILE_CREATE_PIPE_INSTANCE: nobody but the service can add a server instance to the name.
// A write-restricted token (any Stockade tree) fails the restricted half of the access check:
// the DACL names neither the write SID nor a logon SID. The first instance is created with
// FILE_FLAG_FIRST_PIPE_INSTANCE, so that a squatter who created the name first makes the service
// fail to start instead of receiving its clients.
#ifndef STOCKADE_RUNNER_SERVICE_WIN_PIPE_SERVER_H_
#define STOCKADE_RUNNER_SERVICE_WIN_PIPE_SERVER_H_

#include <windows.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/error.h"
#include "provision/win/handles.h"
#include "runner/protocol/win/pipe_stream.h"
#include "runner/service/win/pipe_client.h"

namespace stockade::runner::service::win_os {

using protocol::win_os::PipeStream;
using provision::win::UniqueHandle;

// The endpoint's security descriptor, as SDDL (documented in docs/protocol.md).
inline constexpr char kServicePipeSddl[] =
    "D:P(D;;GA;;;NU)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x0012008b;;;IU)";

// Called on a connection's own thread with the stream and who is on the other end.
using ConnectionHandler = std::function<void(PipeStream& stream, const PipeClient& client)>;

class PipeServer {
 public:
  // Creates the first instance of `name` (FILE_FLAG_FIRST_PIPE_INSTANCE).
  // Errors: kAlreadyExists when the name is taken (another service, or a squatter);
  // kInvalidArgument for a name that is not "\\.\pipe\..."; kOs naming CreateNamedPipeW.
  static Expected<std::unique_ptr<PipeServer>> Create(const std::string& name,
                                                      const std::string& sddl = kServicePipeSddl);
  ~PipeServer();

  const std::string& name() const { return name_; }

  // Accepts connections until Stop(); each runs `handler` on a new thread after
  // IdentifyPipeClient (a client that cannot be identified is disconnected). Returns after
  // Stop() once every connection thread has returned (their pending reads are cancelled).
  // Errors: kOs naming ConnectNamedPipe / CreateNamedPipeW when accepting fails.
  Status Serve(const ConnectionHandler& handler);
  // Makes Serve() return; thread-safe, callable from a service control handler.
  void Stop();

 private:
  PipeServer() = default;
  Expected<UniqueHandle> NewInstance(bool first);

  std::string name_;
  std::string sddl_;
  UniqueHandle stop_;
  UniqueHandle next_;  // the instance waiting for a client
  std::mutex mutex_;
  std::set<HANDLE> live_;  // connected pipes, for cancelling their reads at Stop()
  int active_ = 0;         // connection threads still running (detached)
  std::condition_variable idle_;
};

// A security descriptor built from SDDL, for SECURITY_ATTRIBUTES.
class SecurityDescriptor {
 public:
  // Errors: kInvalidArgument naming ConvertStringSecurityDescriptorToSecurityDescriptorW.
  static Expected<SecurityDescriptor> FromSddl(const std::string& sddl);
  PSECURITY_DESCRIPTOR get() const { return descriptor_.get(); }

 private:
  provision::win::LocalPtr<void> descriptor_;
};

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_PIPE_SERVER_H_
