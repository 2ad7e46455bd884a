// Moving protocol frames (runner/protocol/messages.h) over a Unix stream socket, with the
// descriptors of a RunRequest passed as SCM_RIGHTS ancillary data. Used by the service
// (runner/service/linux) and the client side (connection.h).
#ifndef STOCKADE_RUNNER_PROTOCOL_LINUX_SOCKET_IO_H_
#define STOCKADE_RUNNER_PROTOCOL_LINUX_SOCKET_IO_H_

#include <chrono>
#include <optional>
#include <vector>

#include "core/error.h"
#include "runner/linux/unique_fd.h"
#include "runner/protocol/messages.h"

namespace stockade::runner::protocol::linux_os {

using runner::linux_os::UniqueFd;

struct ReceivedMessage {
  Message message;
  // Descriptors that came with the frame, in the order the peer sent them (received with
  // MSG_CMSG_CLOEXEC, so none leaks into a child by accident).
  std::vector<UniqueFd> fds;
};

// No deadline.
inline constexpr std::chrono::milliseconds kNoTimeout{-1};

// Reads one frame from `fd` and decodes it.
// Returns std::nullopt on a clean end of stream before the first byte of a frame.
// Errors: DecodeHeader/DecodePayload's (kProtocol, kProtocolVersion, naming the field);
// kProtocol "truncated frame" when the stream ends inside a frame; kProtocol when more than
// `max_fds` descriptors (or ancillary data that is not SCM_RIGHTS) arrive (they are closed);
// kTimeout when `timeout` (> 0) passes before the whole frame is in; kIo for recvmsg failures.
Expected<std::optional<ReceivedMessage>> ReadMessage(int fd,
                                                     std::chrono::milliseconds timeout = kNoTimeout,
                                                     std::size_t max_fds = kMaxPassedFds);

// Encodes `message` and writes the whole frame to `fd` (MSG_NOSIGNAL: a closed peer is an
// error, not SIGPIPE). `fds` go with the first byte as SCM_RIGHTS (at most kMaxPassedFds).
// Errors: EncodeMessage's; kIo (EPIPE/ECONNRESET included) naming the message type.
Status WriteMessage(int fd, const Message& message, const std::vector<int>& fds = {});

// Writes raw bytes (tests that play a hostile peer use it to send broken frames).
Status WriteRaw(int fd, const void* data, std::size_t size, const std::vector<int>& fds = {});

}  // namespace stockade::runner::protocol::linux_os

#endif  // STOCKADE_RUNNER_PROTOCOL_LINUX_SOCKET_IO_H_
