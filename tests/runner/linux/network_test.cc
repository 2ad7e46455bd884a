// The offline identity's network: no AF_INET/AF_INET6 socket at all when no loopback port is
// allowed; with allowed loopback ports, TCP to those ports only (the listener sees the
// connection arrive) and no UDP. The online identity is not restricted.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "tests/runner/linux/runner_test_support.h"

namespace stockade::runner::testing {
namespace {

using NetworkTest = RunnerTest;

// A TCP listener on 127.0.0.1 at an ephemeral port.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 8);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }
  // True when a connection is waiting to be accepted (consumes it).
  bool Accepted() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) return false;
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return false;
    ::close(c);
    return true;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST_F(NetworkTest, OfflineCannotCreateInetSockets) {
  for (const char* kind : {"inet", "inet6", "udp", "udp6"}) {
    const ProbeResult control = RunUnconfined({"socket", kind}, user_.uid, user_.gid);
    ASSERT_EQ(control.status.code, 0) << kind << ": " << control.out;
    const ProbeResult r = Run(ProbeSpec({"socket", kind}));
    EXPECT_EQ(r.status.code, 1) << kind << ": " << r.out;
    EXPECT_EQ(ErrnoIn(r.out), EACCES) << kind << ": " << r.out;
  }
  // Local IPC keeps working.
  const ProbeResult unix_socket = Run(ProbeSpec({"socket", "unix"}));
  EXPECT_EQ(unix_socket.status.code, 0) << unix_socket.out;
}

TEST_F(NetworkTest, OfflineCannotConnectToALoopbackListener) {
  Listener listener;
  const ProbeResult control =
      RunUnconfined({"connect", std::to_string(listener.port())}, user_.uid, user_.gid);
  ASSERT_EQ(control.status.code, 0) << control.out;
  ASSERT_TRUE(listener.Accepted());

  const ProbeResult r = Run(ProbeSpec({"connect", std::to_string(listener.port())}));
  EXPECT_EQ(ErrnoIn(r.out), EACCES) << r.out;
  EXPECT_FALSE(listener.Accepted());
}

TEST_F(NetworkTest, OfflineReachesOnlyTheAllowedLoopbackPorts) {
  Listener allowed;
  Listener other;
  LaunchSpec to_allowed = ProbeSpec({"connect", std::to_string(allowed.port())});
  to_allowed.loopback_ports = {allowed.port()};
  const ProbeResult ok = Run(to_allowed);
  EXPECT_EQ(ok.status.code, 0) << ok.out;
  EXPECT_TRUE(allowed.Accepted()) << "the allowed listener saw no connection";

  LaunchSpec to_other = ProbeSpec({"connect", std::to_string(other.port())});
  to_other.loopback_ports = {allowed.port()};
  const ProbeResult denied = Run(to_other);
  EXPECT_EQ(denied.status.code, 1) << denied.out;
  EXPECT_EQ(ErrnoIn(denied.out), EACCES) << denied.out;
  EXPECT_FALSE(other.Accepted());

  // UDP is outside Landlock's reach: seccomp refuses the socket itself.
  LaunchSpec udp = ProbeSpec({"socket", "udp"});
  udp.loopback_ports = {allowed.port()};
  const ProbeResult u = Run(udp);
  EXPECT_EQ(ErrnoIn(u.out), EACCES) << u.out;
}

TEST_F(NetworkTest, OnlineIsNotRestricted) {
  Listener listener;
  LaunchSpec spec = ProbeSpec({"connect", std::to_string(listener.port())});
  spec.network = NetworkAccess::kAllowed;
  const ProbeResult r = Run(spec);
  EXPECT_EQ(r.status.code, 0) << r.out;
  EXPECT_TRUE(listener.Accepted());
}

}  // namespace
}  // namespace stockade::runner::testing
