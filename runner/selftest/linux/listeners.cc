#include "runner/selftest/linux/listeners.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace stockade::runner::selftest::linux_host {

namespace {

std::string AddressText(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
  ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
  port = ntohs(a->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

// Binds a socket of `family`/`type` on the wildcard (or loopback) address. Returns the fd and
// the port, or an error.
Expected<int> Bind(int family, int type, bool loopback, std::uint16_t port, std::uint16_t* bound) {
  const int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError(ErrorCode::kOs, "selftest listener: socket", errno);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(loopback ? INADDR_LOOPBACK : INADDR_ANY);
    len = sizeof(sockaddr_in);
  } else {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = loopback ? in6addr_loopback : in6addr_any;
    len = sizeof(sockaddr_in6);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(ErrorCode::kOs, "selftest listener: bind port " + std::to_string(port), err);
  }
  if (type == SOCK_STREAM && ::listen(fd, 64) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(ErrorCode::kOs, "selftest listener: listen", err);
  }
  socklen_t got = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &got);
  *bound = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                             : ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return fd;
}

}  // namespace

Expected<std::unique_ptr<Listeners>> Listeners::Start(const std::vector<std::uint16_t>& avoid_ports,
                                                      std::uint16_t allowed_port) {
  std::unique_ptr<Listeners> l(new Listeners());
  auto avoided = [&](std::uint16_t p) {
    return std::find(avoid_ports.begin(), avoid_ports.end(), p) != avoid_ports.end();
  };
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto fd = Bind(AF_INET, SOCK_STREAM, false, 0, &l->tcp4_port_);
    if (!fd) return fd.error();
    if (!avoided(l->tcp4_port_)) {
      l->tcp4_fd_ = *fd;
      break;
    }
    ::close(*fd);
  }
  if (l->tcp4_fd_ < 0) return Error(ErrorCode::kOs, "selftest listener: no free TCP port");
  // The same port number on IPv6 when possible (it is not in avoid_ports either).
  auto fd6 = Bind(AF_INET6, SOCK_STREAM, false, l->tcp4_port_, &l->tcp6_port_);
  if (!fd6) fd6 = Bind(AF_INET6, SOCK_STREAM, false, 0, &l->tcp6_port_);
  if (fd6 && avoided(l->tcp6_port_)) {
    ::close(*fd6);
    l->tcp6_port_ = 0;
  } else if (fd6) {
    l->tcp6_fd_ = *fd6;
  } else {
    l->tcp6_port_ = 0;
  }
  auto udp = Bind(AF_INET, SOCK_DGRAM, false, 0, &l->udp_port_);
  if (!udp) return udp.error();
  l->udp_fd_ = *udp;
  if (allowed_port != 0) {
    std::uint16_t bound = 0;
    auto fd = Bind(AF_INET, SOCK_STREAM, true, allowed_port, &bound);
    if (fd) l->allowed_fd_ = *fd;
  }
  if (::pipe2(l->stop_fd_, O_CLOEXEC) != 0) {
    return ErrnoError(ErrorCode::kOs, "selftest listener: pipe2", errno);
  }
  l->thread_ = std::thread([raw = l.get()] { raw->Serve(); });
  return l;
}

Listeners::~Listeners() {
  if (thread_.joinable()) {
    if (::write(stop_fd_[1], "x", 1) < 0) {
    }
    thread_.join();
  }
  for (int fd : {tcp4_fd_, tcp6_fd_, udp_fd_, allowed_fd_, stop_fd_[0], stop_fd_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

std::vector<std::string> Listeners::TakeContacts() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  out.swap(contacts_);
  return out;
}

void Listeners::Serve() {
  for (;;) {
    pollfd fds[5] = {{stop_fd_[0], POLLIN, 0},
                     {tcp4_fd_, POLLIN, 0},
                     {tcp6_fd_, POLLIN, 0},
                     {udp_fd_, POLLIN, 0},
                     {allowed_fd_, POLLIN, 0}};
    if (::poll(fds, 5, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) return;
    const char* names[5] = {"", "tcp4", "tcp6", "udp", "tcp-allowed"};
    for (int i : {1, 2, 4}) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      const int conn = ::accept4(fds[i].fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (conn < 0) continue;
      // Read the probe's greeting (briefly), answer, close.
      char buf[256] = {};
      pollfd p{conn, POLLIN, 0};
      ssize_t n = 0;
      if (::poll(&p, 1, 1000) > 0) n = ::recv(conn, buf, sizeof(buf) - 1, 0);
      const char reply[] = "stockade-selftest-ok\n";
      ::send(conn, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
      ::close(conn);
      std::string line(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      std::lock_guard<std::mutex> lock(mutex_);
      contacts_.push_back(std::string(names[i]) + " connection from " + AddressText(peer) +
                          (line.empty() ? "" : ": \"" + line + "\""));
    }
    if ((fds[3].revents & POLLIN) != 0) {
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      char buf[2048];
      const ssize_t n =
          ::recvfrom(udp_fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &len);
      if (n > 0) {
        // Echo: for a DNS query this is a well-formed (if useless) answer with the same id.
        if (n >= 12) buf[2] = static_cast<char>(buf[2] | 0x80);  // QR bit: it is a response
        ::sendto(udp_fd_, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer),
                 len);
        std::lock_guard<std::mutex> lock(mutex_);
        contacts_.push_back("udp datagram of " + std::to_string(n) + " bytes from " +
                            AddressText(peer));
      }
    }
  }
}

namespace {

std::string FirstAddress(int family) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != family) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                  sizeof(text));
    } else {
      const auto* a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) continue;
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    }
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace

std::string HostIPv4() { return FirstAddress(AF_INET); }
std::string HostIPv6() { return FirstAddress(AF_INET6); }

std::string ConnectFromOutside(const std::string& host, std::uint16_t port) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(*v6);
  } else {
    return "not an address: " + host;
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
  const int err = errno;
  if (rc == 0) {
    const char hello[] = "stockade-selftest positive-control\n";
    ::send(fd, hello, sizeof(hello) - 1, MSG_NOSIGNAL);
  }
  ::close(fd);
  return rc == 0 ? "" : std::string("connect: ") + std::strerror(err);
}

}  // namespace stockade::runner::selftest::linux_host
