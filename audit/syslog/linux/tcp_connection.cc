#include "audit/syslog/tcp_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace stockade::audit::syslog {

namespace {

int Fd(std::intptr_t h) { return static_cast<int>(h); }

}  // namespace

Expected<TcpConnection> TcpConnection::Connect(const std::string& host, std::uint16_t port,
                                               std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    return Error(ErrorCode::kNotFound,
                 "resolving syslog receiver " + Where(host, port) + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  Error last(ErrorCode::kOs, "connecting to syslog receiver " + Where(host, port));
  for (addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last = ErrnoError(ErrorCode::kOs, "socket for syslog receiver " + Where(host, port), errno);
      continue;
    }
    TcpConnection connection(fd);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last =
            ErrnoError(ErrorCode::kOs, "connecting to syslog receiver " + Where(host, port), errno);
        continue;
      }
      pollfd p{fd, POLLOUT, 0};
      const int ready = ::poll(&p, 1, Millis(timeout));
      if (ready == 0) {
        last = Error(ErrorCode::kTimeout, "connecting to syslog receiver " + Where(host, port) +
                                              ": no answer within " +
                                              std::to_string(timeout.count()) + " ms");
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (ready < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        last = ErrnoError(ErrorCode::kOs, "connecting to syslog receiver " + Where(host, port),
                          err != 0 ? err : errno);
        continue;
      }
    }
    // Back to blocking: SendAll waits with poll and a deadline of its own.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
      last = ErrnoError(ErrorCode::kOs, "fcntl on the syslog connection", errno);
      continue;
    }
    return connection;
  }
  return last;
}

void TcpConnection::Close() {
  if (handle_ != kInvalidHandle) ::close(Fd(handle_));
  handle_ = kInvalidHandle;
}

Status TcpConnection::SendAll(std::string_view data, std::chrono::milliseconds timeout) {
  if (!valid()) return Error(ErrorCode::kIo, "sending to syslog receiver: not connected");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!data.empty()) {
    const ssize_t n = ::send(Fd(handle_), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return Error(ErrorCode::kTimeout, "sending to syslog receiver: no buffer space within " +
                                              std::to_string(timeout.count()) + " ms");
      }
      pollfd p{Fd(handle_), POLLOUT, 0};
      if (::poll(&p, 1, Millis(left)) < 0 && errno != EINTR) {
        return ErrnoError(ErrorCode::kIo, "poll on the syslog connection", errno);
      }
      continue;
    }
    return ErrnoError(ErrorCode::kIo, "sending to syslog receiver", n < 0 ? errno : EPIPE);
  }
  return OkStatus();
}

bool TcpConnection::PeerClosed() {
  if (!valid()) return true;
  pollfd p{Fd(handle_), POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if ((p.revents & (POLLERR | POLLHUP | POLLRDHUP)) != 0) return true;
  // Readable: either data (receivers do not normally send any; discard it) or EOF.
  char buf[512];
  const ssize_t n = ::recv(Fd(handle_), buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0) return true;
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;
}

}  // namespace stockade::audit::syslog
