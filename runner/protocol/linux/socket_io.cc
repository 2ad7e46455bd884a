#include "runner/protocol/linux/socket_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace stockade::runner::protocol::linux_os {

namespace {

using Clock = std::chrono::steady_clock;

// Room for more descriptors than any message may carry, so that an excess is seen (and its
// descriptors closed) rather than silently truncated.
constexpr std::size_t kFdRoom = 16;

class Reader {
 public:
  Reader(int fd, std::chrono::milliseconds timeout, std::size_t max_fds)
      : fd_(fd), max_fds_(max_fds) {
    if (timeout.count() > 0) {
      has_deadline_ = true;
      deadline_ = Clock::now() + timeout;
    }
  }

  // Reads exactly `size` bytes into `out`. *eof_at_start is set when the stream ended before
  // the first byte (only meaningful for the first call).
  Status ReadExact(std::uint8_t* out, std::size_t size, const char* what, bool* eof_at_start) {
    std::size_t done = 0;
    while (done < size) {
      STOCKADE_RETURN_IF_ERROR(WaitReadable(what));
      iovec iov{out + done, size - done};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdRoom)];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      const ssize_t got = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return ErrnoError(ErrorCode::kIo, std::string("recvmsg of the ") + what, errno);
      }
      STOCKADE_RETURN_IF_ERROR(TakeFds(msg));
      if (got == 0) {
        if (done == 0 && eof_at_start != nullptr) {
          *eof_at_start = true;
          return OkStatus();
        }
        return Error(ErrorCode::kProtocol,
                     std::string("truncated frame: the stream ended in the ") + what + " after " +
                         std::to_string(done) + " of " + std::to_string(size) + " bytes");
      }
      done += static_cast<std::size_t>(got);
    }
    return OkStatus();
  }

  std::vector<UniqueFd> TakeReceived() { return std::move(fds_); }

 private:
  Status WaitReadable(const char* what) {
    if (!has_deadline_) return OkStatus();
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left <= 0) {
        return Error(ErrorCode::kTimeout, std::string("timed out waiting for the ") + what);
      }
      pollfd p{fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(left));
      if (rc > 0) return OkStatus();
      if (rc < 0 && errno != EINTR) return ErrnoError(ErrorCode::kIo, "poll", errno);
    }
  }

  Status TakeFds(msghdr& msg) {
    bool bad_control = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < n; ++i) {
          int passed = -1;
          std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          fds_.emplace_back(passed);  // owned (and closed) whatever happens next
        }
      } else {
        bad_control = true;  // SCM_CREDENTIALS and friends: nothing we asked for
      }
    }
    if ((msg.msg_flags & MSG_CTRUNC) != 0) {
      return Error(ErrorCode::kProtocol, "descriptors: more than " + std::to_string(kFdRoom) +
                                             " passed with one message (truncated)");
    }
    if (bad_control) {
      return Error(ErrorCode::kProtocol, "descriptors: ancillary data other than SCM_RIGHTS");
    }
    if (fds_.size() > max_fds_) {
      return Error(ErrorCode::kProtocol, "descriptors: " + std::to_string(fds_.size()) +
                                             " passed, at most " + std::to_string(max_fds_) +
                                             " allowed here");
    }
    return OkStatus();
  }

  int fd_;
  std::size_t max_fds_;
  bool has_deadline_ = false;
  Clock::time_point deadline_{};
  std::vector<UniqueFd> fds_;
};

}  // namespace

Expected<std::optional<ReceivedMessage>> ReadMessage(int fd, std::chrono::milliseconds timeout,
                                                     std::size_t max_fds) {
  Reader reader(fd, timeout, max_fds);
  std::uint8_t header_bytes[kHeaderBytes];
  bool eof = false;
  STOCKADE_RETURN_IF_ERROR(reader.ReadExact(header_bytes, kHeaderBytes, "frame header", &eof));
  if (eof) return std::optional<ReceivedMessage>();
  auto header = DecodeHeader(header_bytes, kHeaderBytes);
  if (!header.ok()) return header.error();
  std::string payload(header->payload_bytes, '\0');
  if (!payload.empty()) {
    STOCKADE_RETURN_IF_ERROR(reader.ReadExact(reinterpret_cast<std::uint8_t*>(payload.data()),
                                              payload.size(), "payload", nullptr));
  }
  auto message = DecodePayload(header->type, payload);
  if (!message.ok()) return message.error();
  ReceivedMessage out{std::move(*message), reader.TakeReceived()};
  return std::optional<ReceivedMessage>(std::move(out));
}

Status WriteRaw(int fd, const void* data, std::size_t size, const std::vector<int>& fds) {
  if (fds.size() > kMaxPassedFds) {
    return Error(ErrorCode::kInvalidArgument, "at most " + std::to_string(kMaxPassedFds) +
                                                  " descriptors may be passed with a message");
  }
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  std::size_t done = 0;
  bool fds_sent = fds.empty();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  while (done < size || !fds_sent) {
    iovec iov{const_cast<std::uint8_t*>(bytes + done), size - done};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds_sent) {
      std::memset(control, 0, sizeof(control));
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      if (c == nullptr) return Error(ErrorCode::kInternal, "no room for SCM_RIGHTS");
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    const ssize_t sent = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return ErrnoError(ErrorCode::kIo, "sendmsg", errno);
    }
    fds_sent = true;
    done += static_cast<std::size_t>(sent);
    if (size == 0) break;
  }
  return OkStatus();
}

Status WriteMessage(int fd, const Message& message, const std::vector<int>& fds) {
  auto frame = EncodeMessage(message);
  if (!frame.ok()) return frame.error();
  Status st = WriteRaw(fd, frame->data(), frame->size(), fds);
  if (!st.ok()) return st.error().Wrap("sending " + MessageTypeName(TypeOf(message)));
  return OkStatus();
}

}  // namespace stockade::runner::protocol::linux_os
