#include "runner/client/win/service_run.h"

#include <windows.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "provision/win/win_util.h"
#include "runner/client/win/console_relay.h"
#include "runner/client/win/interrupt.h"
#include "runner/client/win/pump.h"
#include "runner/protocol/win/pipe_stream.h"

namespace stockade::runner::client::win_os {

namespace pw = stockade::provision::win;
using protocol::win_os::PipeStream;

const char kUnavailableHint[] =
    "start the service (`sc start Stockade`, installed by stockade-provision apply), or run "
    "without it: stockade run --unprovisioned (weaker guarantees: stockade run --help)";

namespace {

Error FromReply(const protocol::ErrorMessage& reply) {
  ErrorCode code = ErrorCode::kProtocol;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kServiceUnavailable) + 16; ++i) {
    if (ErrorCodeName(static_cast<ErrorCode>(i)) == reply.code) {
      code = static_cast<ErrorCode>(i);
      break;
    }
  }
  return Error(code, "the service refused: " + reply.message);
}

// Opens the tree's stdio pipe `index` for this session.
Expected<UniqueHandle> OpenStdioPipe(const std::string& session_id, int index) {
  const std::string name = protocol::win_os::StdioPipeName(session_id, index);
  UniqueHandle pipe(CreateFileW(pw::Wide(name).c_str(), index == 0 ? GENERIC_WRITE : GENERIC_READ,
                                0, nullptr, OPEN_EXISTING,
                                SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr));
  if (!pipe) return pw::LastWin32Error("CreateFileW(" + name + ")");
  return pipe;
}

}  // namespace

Expected<RunOutcome> RunThroughService(const std::string& pipe_name,
                                       const protocol::RunRequest& request, int* failure_status) {
  *failure_status = kStatusSandbox;
  auto connected = protocol::win_os::ConnectToService(pipe_name);
  if (!connected.ok()) {
    if (connected.error().code() == ErrorCode::kServiceUnavailable) {
      *failure_status = kStatusUnavailable;
      return Error(ErrorCode::kServiceUnavailable,
                   connected.error().context() + "; " + kUnavailableHint,
                   connected.error().os_kind(), connected.error().os_error());
    }
    if (connected.error().code() == ErrorCode::kPathInvalid) *failure_status = kStatusUsage;
    return connected.error();
  }
  PipeStream& stream = *connected;
  STOCKADE_RETURN_IF_ERROR(stream.Send(request));

  auto first = stream.Receive();
  if (!first.ok()) return first.error().Wrap("waiting for the service's answer");
  if (!first->has_value()) {
    return Error(ErrorCode::kProtocol, "the service closed the connection without an answer");
  }
  if (const auto* refused = std::get_if<protocol::ErrorMessage>(&**first)) {
    *failure_status = ExitStatusForServiceError(refused->stage, refused->code);
    return FromReply(*refused);
  }
  const auto* started = std::get_if<protocol::StartedMessage>(&**first);
  if (started == nullptr) {
    return Error(ErrorCode::kProtocol,
                 "expected Started, got " + protocol::MessageTypeName(protocol::TypeOf(**first)));
  }
  const std::string session_id = started->session_id;

  // Signals (console handler thread) and resizes (relay thread) share the stream.
  std::mutex send_mutex;
  // The tree waits (suspended) until every stream it was given is connected.
  std::vector<std::unique_ptr<Pump>> pumps;
  std::unique_ptr<Pump> input;
  // With a tty the service runs the tree in a pseudoconsole over pipes 0 (its input) and 1 (its
  // VT output), and this console relays them like a terminal (console_relay.h). The VT modes
  // are declared first so that they come back last, on every path out.
  std::optional<ConsoleVtMode> vt_mode;
  UniqueHandle tty_pipes[2];
  std::unique_ptr<ConsoleRelay> relay;
  const DWORD std_ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
  for (int i = 0; i < 3; ++i) {
    if (request.stdio[static_cast<std::size_t>(i)] != protocol::StdioKind::kFd) continue;
    auto pipe = OpenStdioPipe(session_id, i);
    if (!pipe.ok()) return pipe.error().Wrap("connecting the tree's stdio");
    const HANDLE own = GetStdHandle(std_ids[i]);
    if (request.tty.has_value() && i < 2) {
      tty_pipes[i] = std::move(*pipe);
    } else if (i == 0) {
      const HANDLE to = pipe->get();
      input = std::make_unique<Pump>(own, to, std::move(*pipe));
    } else {
      const HANDLE from = pipe->get();
      pumps.push_back(std::make_unique<Pump>(from, own, std::move(*pipe)));
    }
  }
  if (request.tty.has_value() && tty_pipes[0] && tty_pipes[1]) {
    const HANDLE console_in = GetStdHandle(STD_INPUT_HANDLE);
    const HANDLE console_out = GetStdHandle(STD_OUTPUT_HANDLE);
    auto vt = ConsoleVtMode::Enable(console_in, console_out);
    if (!vt.ok()) return vt.error().Wrap("VT mode for the console");
    vt_mode.emplace(std::move(*vt));
    relay = std::make_unique<ConsoleRelay>(
        console_in, console_out, tty_pipes[0].get(), tty_pipes[1].get(),
        [&stream, &send_mutex](ConsoleSize size) {
          protocol::ResizeMessage message;
          message.size.cols = static_cast<std::uint16_t>(std::clamp(size.cols, 1, 65535));
          message.size.rows = static_cast<std::uint16_t>(std::clamp(size.rows, 1, 65535));
          std::lock_guard<std::mutex> lock(send_mutex);
          (void)stream.Send(message);  // the service resizes the tree's pseudoconsole
        });
  }

  auto interrupts = InterruptScope::Install([&stream, &send_mutex](int signal) {
    protocol::SignalMessage message;
    message.signal = signal;
    std::lock_guard<std::mutex> lock(send_mutex);
    (void)stream.Send(message);  // the service kills the whole tree
  });
  if (!interrupts.ok()) return interrupts.error();

  auto last = stream.Receive();
  // Output first: everything the tree wrote before it ended reaches the user before we return.
  for (auto& pump : pumps) pump->Finish(5000);
  if (input) input->Finish(0);
  if (relay) {
    // The service closed the pseudoconsole before Exit: its output pipe ends.
    relay->WaitOutput(5000);
    relay.reset();
  }
  if (!last.ok()) return last.error().Wrap("waiting for the tree to end");
  if (!last->has_value()) {
    return Error(ErrorCode::kProtocol, "the service closed the connection before the tree ended");
  }
  if (const auto* failed = std::get_if<protocol::ErrorMessage>(&**last)) {
    *failure_status = ExitStatusForServiceError(failed->stage, failed->code);
    return FromReply(*failed);
  }
  const auto* exit = std::get_if<protocol::ExitMessage>(&**last);
  if (exit == nullptr) {
    return Error(ErrorCode::kProtocol,
                 "expected Exit, got " + protocol::MessageTypeName(protocol::TypeOf(**last)));
  }
  RunOutcome outcome;
  outcome.code = exit->code;
  outcome.signal = exit->signal;
  outcome.timed_out = exit->timed_out;
  outcome.killed = exit->killed;
  outcome.client_signal = InterruptScope::Received();
  return outcome;
}

}  // namespace stockade::runner::client::win_os
