// The OS-independent half of TcpConnection: ownership of the handle. Connect, SendAll,
// PeerClosed and Close are per OS (audit/syslog/linux, audit/syslog/win).
#include "audit/syslog/tcp_connection.h"

#include <algorithm>

namespace stockade::audit::syslog {

std::string TcpConnection::Where(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

int TcpConnection::Millis(std::chrono::milliseconds ms) {
  return static_cast<int>(std::max<std::int64_t>(0, std::min<std::int64_t>(ms.count(), 1 << 30)));
}

TcpConnection::TcpConnection(TcpConnection&& other) noexcept : handle_(other.handle_) {
  other.handle_ = kInvalidHandle;
}

TcpConnection& TcpConnection::operator=(TcpConnection&& other) noexcept {
  if (this != &other) {
    Close();
    handle_ = other.handle_;
    other.handle_ = kInvalidHandle;
  }
  return *this;
}

TcpConnection::~TcpConnection() { Close(); }

bool TcpConnection::valid() const { return handle_ != kInvalidHandle; }

}  // namespace stockade::audit::syslog
