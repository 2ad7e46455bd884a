// A TCP client connection for the syslog forwarder, implemented per OS
// (audit/syslog/linux/tcp_connection.cc: BSD sockets; audit/syslog/win/tcp_connection.cc:
// Winsock). Only what the forwarder needs: connect with a deadline, send everything with a
// deadline, and notice that the receiver went away before writing into a dead connection.
#ifndef STOCKADE_AUDIT_SYSLOG_TCP_CONNECTION_H_
#define STOCKADE_AUDIT_SYSLOG_TCP_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace stockade::audit::syslog {

class TcpConnection {
 public:
  // Resolves `host` (name or numeric, IPv4 or IPv6) and connects to the first address that
  // accepts within `timeout` per address. Errors: kNotFound (the name does not resolve),
  // kOs/kTimeout naming host:port and the OS error of the last address tried.
  static Expected<TcpConnection> Connect(const std::string& host, std::uint16_t port,
                                         std::chrono::milliseconds timeout);

  TcpConnection(TcpConnection&& other) noexcept;
  TcpConnection& operator=(TcpConnection&& other) noexcept;
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;
  ~TcpConnection();

  // Writes all of `data`, waiting at most `timeout` for buffer space in total. Never raises
  // SIGPIPE. Errors: kIo with the OS error (the connection is then unusable), kTimeout.
  Status SendAll(std::string_view data, std::chrono::milliseconds timeout);

  // True when the receiver has closed or reset the connection, as far as this side can tell
  // without blocking (a FIN or RST already arrived). Data the receiver sent is ignored.
  bool PeerClosed();

  bool valid() const;

 private:
  // -1 is both an invalid fd and INVALID_SOCKET (~0) as an intptr_t.
  static constexpr std::intptr_t kInvalidHandle = -1;

  explicit TcpConnection(std::intptr_t handle) : handle_(handle) {}
  // Closes the handle (per OS) and leaves kInvalidHandle.
  void Close();
  // "host:port", with brackets around an IPv6 literal, for error messages.
  static std::string Where(const std::string& host, std::uint16_t port);
  // A timeout as the int milliseconds poll/select take, clamped to [0, 2^30].
  static int Millis(std::chrono::milliseconds ms);

  std::intptr_t handle_;  // fd on Linux, SOCKET on Windows; kInvalidHandle when closed
};

}  // namespace stockade::audit::syslog

#endif  // STOCKADE_AUDIT_SYSLOG_TCP_CONNECTION_H_
