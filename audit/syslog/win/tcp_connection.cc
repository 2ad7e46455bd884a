#include "audit/syslog/tcp_connection.h"

// winsock2.h must come before windows.h (which WIN32_LEAN_AND_MEAN keeps from pulling winsock 1).
#include <winsock2.h>
#include <ws2tcpip.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace stockade::audit::syslog {

namespace {

SOCKET Sock(std::intptr_t h) { return static_cast<SOCKET>(h); }

Error WsaError(ErrorCode code, std::string context, int err) {
  return Error(code, std::move(context) + " (WSA error " + std::to_string(err) + ")",
               OsErrorKind::kWin32, err);
}

// Winsock needs WSAStartup once per process before any call; it is never undone (the process
// may use sockets until it exits).
Status EnsureWinsock() {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] {
    WSADATA data{};
    result = ::WSAStartup(MAKEWORD(2, 2), &data);
  });
  if (result != 0) return WsaError(ErrorCode::kOs, "WSAStartup", result);
  return OkStatus();
}

Status SetBlocking(SOCKET s, bool blocking) {
  u_long mode = blocking ? 0 : 1;
  if (::ioctlsocket(s, FIONBIO, &mode) != 0) {
    return WsaError(ErrorCode::kOs, "ioctlsocket(FIONBIO) on the syslog connection",
                    ::WSAGetLastError());
  }
  return OkStatus();
}

}  // namespace

Expected<TcpConnection> TcpConnection::Connect(const std::string& host, std::uint16_t port,
                                               std::chrono::milliseconds timeout) {
  STOCKADE_RETURN_IF_ERROR(EnsureWinsock());
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  // getaddrinfo (ANSI) takes the host name as bytes: host names are ASCII (IDNA) in practice.
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    return WsaError(ErrorCode::kNotFound, "resolving syslog receiver " + Where(host, port), rc);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  Error last(ErrorCode::kOs, "connecting to syslog receiver " + Where(host, port));
  for (addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    const SOCKET s = ::WSASocketW(a->ai_family, a->ai_socktype, a->ai_protocol, nullptr, 0,
                                  WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
      last = WsaError(ErrorCode::kOs, "socket for syslog receiver " + Where(host, port),
                      ::WSAGetLastError());
      continue;
    }
    TcpConnection connection(static_cast<std::intptr_t>(s));
    if (Status nb = SetBlocking(s, false); !nb.ok()) {
      last = nb.error();
      continue;
    }
    if (::connect(s, a->ai_addr, static_cast<int>(a->ai_addrlen)) != 0) {
      const int err = ::WSAGetLastError();
      if (err != WSAEWOULDBLOCK) {
        last = WsaError(ErrorCode::kOs, "connecting to syslog receiver " + Where(host, port), err);
        continue;
      }
      // select(), not WSAPoll: WSAPoll does not report a refused connect before Windows 10
      // 2004 (it waits for the whole timeout); select reports it in the except set.
      fd_set writable, failed;
      FD_ZERO(&writable);
      FD_ZERO(&failed);
      FD_SET(s, &writable);
      FD_SET(s, &failed);
      const int ms = Millis(timeout);
      timeval tv{ms / 1000, (ms % 1000) * 1000};
      const int ready = ::select(0, nullptr, &writable, &failed, &tv);
      if (ready == 0) {
        last = Error(ErrorCode::kTimeout, "connecting to syslog receiver " + Where(host, port) +
                                              ": no answer within " +
                                              std::to_string(timeout.count()) + " ms");
        continue;
      }
      int so_error = 0;
      int len = sizeof so_error;
      if (ready < 0 || FD_ISSET(s, &failed) ||
          ::getsockopt(s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&so_error), &len) != 0 ||
          so_error != 0) {
        last = WsaError(ErrorCode::kOs, "connecting to syslog receiver " + Where(host, port),
                        so_error != 0 ? so_error : ::WSAGetLastError());
        continue;
      }
    }
    return connection;
  }
  return last;
}

void TcpConnection::Close() {
  if (handle_ != kInvalidHandle) ::closesocket(Sock(handle_));
  handle_ = kInvalidHandle;
}

Status TcpConnection::SendAll(std::string_view data, std::chrono::milliseconds timeout) {
  if (!valid()) return Error(ErrorCode::kIo, "sending to syslog receiver: not connected");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!data.empty()) {
    const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20));
    const int n = ::send(Sock(handle_), data.data(), chunk, 0);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    const int err = ::WSAGetLastError();
    if (n == SOCKET_ERROR && err == WSAEWOULDBLOCK) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return Error(ErrorCode::kTimeout, "sending to syslog receiver: no buffer space within " +
                                              std::to_string(timeout.count()) + " ms");
      }
      WSAPOLLFD p{};
      p.fd = Sock(handle_);
      p.events = POLLWRNORM;
      if (::WSAPoll(&p, 1, Millis(left)) < 0) {
        return WsaError(ErrorCode::kIo, "WSAPoll on the syslog connection", ::WSAGetLastError());
      }
      continue;
    }
    return WsaError(ErrorCode::kIo, "sending to syslog receiver", err);
  }
  return OkStatus();
}

bool TcpConnection::PeerClosed() {
  if (!valid()) return true;
  WSAPOLLFD p{};
  p.fd = Sock(handle_);
  p.events = POLLRDNORM;
  if (::WSAPoll(&p, 1, 0) <= 0) return false;
  if ((p.revents & (POLLERR | POLLHUP)) != 0) return true;
  // The socket stays non-blocking (set at connect): recv returns at once.
  char buf[512];
  const int n = ::recv(Sock(handle_), buf, sizeof buf, 0);
  if (n == 0) return true;
  if (n == SOCKET_ERROR) return ::WSAGetLastError() != WSAEWOULDBLOCK;
  return false;
}

}  // namespace stockade::audit::syslog
