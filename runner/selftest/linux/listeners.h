// The selftest's network targets on Linux: a TCP listener on every IPv4 address (so also on
// loopback), a TCP listener on every IPv6 address, a UDP echo socket, and optionally a TCP
// listener on a loopback port the policy allows. One background thread serves them all and
// records who connected, so a connection from inside the sandbox is seen from outside too.
#ifndef STOCKADE_RUNNER_SELFTEST_LINUX_LISTENERS_H_
#define STOCKADE_RUNNER_SELFTEST_LINUX_LISTENERS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace stockade::runner::selftest::linux_host {

class Listeners {
 public:
  // Binds the listeners (ephemeral ports, none of them in `avoid_ports`) and starts serving.
  // `allowed_port` != 0: also listen on 127.0.0.1:allowed_port (EADDRINUSE is not an error:
  // something, perhaps the real proxy, already listens there). Errors: kOs naming the socket call.
  static Expected<std::unique_ptr<Listeners>> Start(const std::vector<std::uint16_t>& avoid_ports,
                                                    std::uint16_t allowed_port);
  ~Listeners();
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;

  std::uint16_t tcp4_port() const { return tcp4_port_; }
  std::uint16_t tcp6_port() const { return tcp6_port_; }  // 0 when IPv6 is unavailable
  std::uint16_t udp_port() const { return udp_port_; }
  bool allowed_port_ours() const { return allowed_fd_ >= 0; }

  // Everything that reached a listener since the last call ("tcp4 from 192.0.2.2:4711: line").
  std::vector<std::string> TakeContacts();

 private:
  Listeners() = default;
  void Serve();

  int tcp4_fd_ = -1;
  int tcp6_fd_ = -1;
  int udp_fd_ = -1;
  int allowed_fd_ = -1;
  int stop_fd_[2] = {-1, -1};
  std::uint16_t tcp4_port_ = 0;
  std::uint16_t tcp6_port_ = 0;
  std::uint16_t udp_port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> contacts_;
};

// The first non-loopback IPv4 address of an interface that is up ("" when none), and the first
// non-loopback, non-link-local IPv6 address ("" when none).
std::string HostIPv4();
std::string HostIPv6();

// Connects to host:port from outside the sandbox (the positive control). "" on success, else why.
std::string ConnectFromOutside(const std::string& host, std::uint16_t port);

}  // namespace stockade::runner::selftest::linux_host

#endif  // STOCKADE_RUNNER_SELFTEST_LINUX_LISTENERS_H_
