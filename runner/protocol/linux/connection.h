// The client side of one connection to `stockaded` (Linux): connect to the socket, send a
// request (with the descriptors of a RunRequest), read the replies. Used by `stockade run`,
// `stockade status` and the provisioner's service step (Ping).
#ifndef STOCKADE_RUNNER_PROTOCOL_LINUX_CONNECTION_H_
#define STOCKADE_RUNNER_PROTOCOL_LINUX_CONNECTION_H_

#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"
#include "runner/linux/unique_fd.h"
#include "runner/protocol/linux/socket_io.h"
#include "runner/protocol/messages.h"

namespace stockade::runner::protocol::linux_os {

class Connection {
 public:
  // Connects to the Unix stream socket at `socket_path` (close-on-exec).
  // Errors: kServiceUnavailable naming the path when nothing listens there (ENOENT,
  // ECONNREFUSED) or the socket cannot be reached (EACCES, ENOTDIR, ...; errno attached);
  // kPathInvalid when the path does not fit in sockaddr_un (107 bytes).
  static Expected<Connection> Connect(const std::string& socket_path);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // Sends one message; `fds` go with it (a RunRequest's stdio descriptors, in stdio order).
  // Errors: WriteMessage's; a broken connection is kServiceUnavailable.
  Status Send(const Message& message, const std::vector<int>& fds = {});

  // The next message from the service. Errors: kServiceUnavailable when the service closed the
  // connection; kTimeout after `timeout` (> 0); ReadMessage's otherwise (a malformed reply is
  // kProtocol). Replies carry no descriptors: any that arrive are refused (kProtocol).
  Expected<Message> Receive(std::chrono::milliseconds timeout = kNoTimeout);

  // Ping -> Pong round trip, within `timeout`. An Error reply becomes an Error with its code
  // (looked up by name; kProtocol when unknown) and message.
  Expected<PongMessage> Ping(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  Connection(runner::linux_os::UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}

  runner::linux_os::UniqueFd fd_;
  std::string path_;
};

// The Error that an ErrorMessage from the service stands for: its code looked up by name
// (kProtocol when the name is unknown to this build) and "the service refused: <message>".
Error ErrorFromReply(const ErrorMessage& reply);

}  // namespace stockade::runner::protocol::linux_os

#endif  // STOCKADE_RUNNER_PROTOCOL_LINUX_CONNECTION_H_
