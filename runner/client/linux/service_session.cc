#include "runner/client/linux/service_session.h"

#include <chrono>
#include <type_traits>
#include <variant>

namespace stockade::runner::client::linux_os {

const char kUnavailableHint[] =
    "; `stockade-provision apply` (as root) installs it; or run without the service, with "
    "weaker guarantees: `stockade run --unprovisioned -- COMMAND` (see `stockade run --help`)";

namespace {

// A reply is a dozen bytes of header and a small JSON object: once the socket is readable the
// rest follows at once. A service that stalls inside a frame is broken; do not hang on it.
constexpr std::chrono::milliseconds kFrameTimeout{10000};

}  // namespace

Expected<std::unique_ptr<ServiceSession>> ServiceSession::Start(const std::string& socket_path,
                                                                const protocol::RunRequest& request,
                                                                const std::vector<int>& fds) {
  auto connection = protocol::linux_os::Connection::Connect(socket_path);
  if (!connection.ok()) {
    const Error& e = connection.error();
    if (e.code() != ErrorCode::kServiceUnavailable) return e;
    return Error(e.code(), e.context() + kUnavailableHint, e.os_kind(), e.os_error());
  }
  std::unique_ptr<ServiceSession> session(new ServiceSession(std::move(*connection)));
  STOCKADE_RETURN_IF_ERROR(session->connection_.Send(request, fds));
  return session;
}

Expected<std::optional<RunOutcome>> ServiceSession::OnReadable() {
  auto message = connection_.Receive(kFrameTimeout);
  if (!message.ok()) {
    failure_status_ = kStatusSandbox;
    if (message.error().code() == ErrorCode::kServiceUnavailable) {
      return message.error().Wrap(started_ ? "the service went away while the command ran"
                                           : "the service went away before starting the command");
    }
    return message.error();
  }
  return std::visit(
      [this](auto& m) -> Expected<std::optional<RunOutcome>> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::StartedMessage>) {
          if (started_) {
            failure_status_ = kStatusSandbox;
            return Error(ErrorCode::kProtocol, "the service sent Started twice");
          }
          started_ = true;
          session_id_ = m.session_id;
          return std::optional<RunOutcome>();
        } else if constexpr (std::is_same_v<T, protocol::ExitMessage>) {
          RunOutcome outcome;
          outcome.code = m.code;
          outcome.signal = m.signal;
          outcome.timed_out = m.timed_out;
          outcome.killed = m.killed;
          return std::optional<RunOutcome>(outcome);
        } else if constexpr (std::is_same_v<T, protocol::ErrorMessage>) {
          failure_status_ = ExitStatusForServiceError(m.stage, m.code);
          return protocol::linux_os::ErrorFromReply(m);
        } else {
          failure_status_ = kStatusSandbox;
          return Error(ErrorCode::kProtocol, "unexpected " +
                                                 protocol::MessageTypeName(protocol::TypeOf(m)) +
                                                 " message from the service during a run");
        }
      },
      *message);
}

Expected<std::optional<RunOutcome>> ServiceSession::OnDeadline() {
  // No deadline is ever set (the service owns the timeout).
  return std::optional<RunOutcome>();
}

Status ServiceSession::Interrupt(int signal) {
  return connection_.Send(protocol::SignalMessage{signal});
}

}  // namespace stockade::runner::client::linux_os
