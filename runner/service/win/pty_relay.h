// The service's half of a terminal run on Windows: the client's stdin and stdout are a console
// (RunRequest.tty), so the tree gets a pseudoconsole (runner/win/pseudo_console.h) of the
// client's window size. The pseudoconsole sits on anonymous pipes in the service, and two threads
// relay them to the session's stdio named pipes: pipe 0 (the client's keys, as VT input) into
// the pseudoconsole, its VT output into pipe 1. The client relays those to its console and sends
// Resize messages, which become ResizePseudoConsole here.
//
// Why not hand the named pipes to CreatePseudoConsole directly: they are created in no-wait mode
// until the client connects (stdio_pipes.h), and a conhost that reads a not-yet-connected pipe
// sees an error and ends; the relay starts only once the client is connected.
#ifndef STOCKADE_RUNNER_SERVICE_WIN_PTY_RELAY_H_
#define STOCKADE_RUNNER_SERVICE_WIN_PTY_RELAY_H_

#include <windows.h>

#include <memory>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "provision/win/handles.h"
#include "runner/protocol/messages.h"
#include "runner/win/pseudo_console.h"

namespace stockade::runner::service::win_os {

using provision::win::UniqueHandle;

class ServicePty {
 public:
  // A pseudoconsole of `size`. Errors: PseudoConsole::Create's (kUnsupported before Windows 10
  // 1809, kInvalidArgument for a size out of range, kOs).
  static Expected<std::unique_ptr<ServicePty>> Create(protocol::TtySize size);
  ServicePty(const ServicePty&) = delete;
  ServicePty& operator=(const ServicePty&) = delete;
  // Finish().
  ~ServicePty();

  // For LaunchOptions::pseudo_console.
  void* handle() const { return console_.get(); }

  // Starts relaying `client_in` (we read the client's keys) and `client_out` (we write the
  // screen), once the client connected them; both are duplicated, the caller keeps its own.
  // Errors: kOs naming DuplicateHandle.
  Status Start(HANDLE client_in, HANDLE client_out);

  // ResizePseudoConsole (a Resize message). Errors: PseudoConsole::Resize's; kInvalidArgument
  // once finished.
  Status Resize(protocol::TtySize size);

  // After the tree ended: ClosePseudoConsole while the output relay drains it (before Windows 11
  // 24H2 the close blocks until then), waits up to 5 s for the end of the output, stops the
  // input relay, and closes its copies of the client's pipes (the client reads end of file).
  // Everything the tree wrote has been written to the client's pipe when it returns. Idempotent.
  void Finish();

 private:
  explicit ServicePty(runner::win_os::PseudoConsole console) : console_(std::move(console)) {}
  void CopyOutput();
  void CopyInput();

  runner::win_os::PseudoConsole console_;
  std::mutex mutex_;  // Resize against Finish
  bool finished_ = false;
  UniqueHandle client_in_;
  UniqueHandle client_out_;
  UniqueHandle output_done_;  // manual-reset event
  std::thread output_;
  std::thread input_;
};

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_PTY_RELAY_H_
