#include "runner/protocol/linux/connection.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace stockade::runner::protocol::linux_os {

Expected<Connection> Connection::Connect(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return Error(ErrorCode::kPathInvalid, "service socket path '" + socket_path +
                                              "' is empty or longer than " +
                                              std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  runner::linux_os::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError(ErrorCode::kOs, "socket(AF_UNIX)", errno);
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) break;
    if (errno == EINTR) continue;
    const int err = errno;
    return ErrnoError(ErrorCode::kServiceUnavailable,
                      "the Stockade service is not reachable at " + socket_path +
                          (err == ENOENT || err == ECONNREFUSED
                               ? " (is stockaded running? start it with `stockaded serve`)"
                               : ""),
                      err);
  }
  return Connection(std::move(fd), socket_path);
}

Status Connection::Send(const Message& message, const std::vector<int>& fds) {
  Status st = WriteMessage(fd_.get(), message, fds);
  if (!st.ok() && st.error().code() == ErrorCode::kIo) {
    return Error(ErrorCode::kServiceUnavailable,
                 st.error().context() + " to the service at " + path_, st.error().os_kind(),
                 st.error().os_error());
  }
  return st;
}

Expected<Message> Connection::Receive(std::chrono::milliseconds timeout) {
  auto got = ReadMessage(fd_.get(), timeout, /*max_fds=*/0);
  if (!got.ok()) {
    if (got.error().code() == ErrorCode::kIo) {
      return Error(ErrorCode::kServiceUnavailable,
                   got.error().context() + " from the service at " + path_, got.error().os_kind(),
                   got.error().os_error());
    }
    return got.error().Wrap("reply from the service");
  }
  if (!got->has_value()) {
    return Error(ErrorCode::kServiceUnavailable,
                 "the service at " + path_ + " closed the connection without a reply");
  }
  return std::move((*got)->message);
}

Expected<PongMessage> Connection::Ping(std::chrono::milliseconds timeout) {
  STOCKADE_RETURN_IF_ERROR(Send(PingMessage{}));
  auto reply = Receive(timeout);
  if (!reply.ok()) return reply.error();
  if (auto* pong = std::get_if<PongMessage>(&*reply)) return *pong;
  if (auto* err = std::get_if<ErrorMessage>(&*reply)) return ErrorFromReply(*err);
  return Error(ErrorCode::kProtocol,
               "reply to Ping: expected Pong, got " + MessageTypeName(TypeOf(*reply)));
}

Error ErrorFromReply(const ErrorMessage& reply) {
  ErrorCode code = ErrorCode::kProtocol;
  for (int i = 1; i < 256; ++i) {
    const auto candidate = static_cast<ErrorCode>(i);
    if (ErrorCodeName(candidate) == reply.code) {
      code = candidate;
      break;
    }
  }
  return Error(code, "the service refused: " + reply.message);
}

}  // namespace stockade::runner::protocol::linux_os
