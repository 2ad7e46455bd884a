// Network attacks (and, for the online identity, the same actions as allowed ones): TCP, UDP,
// IPv6, DNS, raw and ping sockets, loopback ports. The targets are listeners the orchestrator
// opened on this host, so "it connected" is proof, never a guess about the internet.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "runner/selftest/probes/linux/linux_probes.h"
#include "runner/selftest/probes/linux/probe_util.h"

namespace stockade::runner::selftest::linux_probes {

namespace {

constexpr int kTimeoutMs = 3000;

std::string Where(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// TCP connect and a short exchange: the orchestrator's listener answers "stockade-selftest-ok".
ProbeReport TcpProbe(std::string_view probe, const std::string& host, int port,
                     const std::string& marker) {
  if (host.empty() || port <= 0) return Failed(probe, "missing argument host= or port=");
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!MakeAddress(host, port, &addr, &len)) return Failed(probe, "not an address: " + host);
  Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.ok()) {
    return Blocked(probe, ErrnoText(std::string("socket(") +
                                        (addr.ss_family == AF_INET6 ? "AF_INET6" : "AF_INET") +
                                        ", SOCK_STREAM)",
                                    errno));
  }
  if (ConnectWithTimeout(fd.get(), reinterpret_cast<sockaddr*>(&addr), len, kTimeoutMs) < 0) {
    return Blocked(probe, ErrnoText("connect(" + Where(host, port) + ")", errno));
  }
  const std::string hello = "stockade-selftest " + marker + " " + std::string(probe) + "\n";
  if (::send(fd.get(), hello.data(), hello.size(), MSG_NOSIGNAL) < 0) {
    return Escaped(probe, "connected to " + Where(host, port) + "; " + ErrnoText("send", errno));
  }
  char buf[128] = {};
  pollfd p{fd.get(), POLLIN, 0};
  std::string reply;
  if (::poll(&p, 1, kTimeoutMs) > 0) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf) - 1, 0);
    if (n > 0) reply.assign(buf, static_cast<std::size_t>(n));
  }
  return Allowed(probe, "connected to " + Where(host, port) + ", sent " +
                            std::to_string(hello.size()) + " bytes, reply \"" + Excerpt(reply, 40) +
                            "\"");
}

// Sends `payload` over UDP and waits for any answer (the orchestrator's listener echoes).
ProbeReport UdpProbe(std::string_view probe, const std::string& host, int port,
                     const std::string& payload) {
  if (host.empty() || port <= 0) return Failed(probe, "missing argument host= or port=");
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!MakeAddress(host, port, &addr, &len)) return Failed(probe, "not an address: " + host);
  Fd fd(::socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.ok()) return Blocked(probe, ErrnoText("socket(SOCK_DGRAM)", errno));
  if (::sendto(fd.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&addr),
               len) < 0) {
    return Blocked(probe, ErrnoText("sendto(" + Where(host, port) + ")", errno));
  }
  pollfd p{fd.get(), POLLIN, 0};
  const int n = ::poll(&p, 1, kTimeoutMs);
  if (n <= 0) {
    return Blocked(probe, "sendto(" + Where(host, port) + ") accepted " +
                              std::to_string(payload.size()) +
                              " bytes locally, but no answer came back in " +
                              std::to_string(kTimeoutMs) + " ms (dropped on the way)");
  }
  char buf[512];
  const ssize_t got = ::recv(fd.get(), buf, sizeof(buf), 0);
  if (got < 0) return Blocked(probe, ErrnoText("recv", errno));
  return Allowed(probe, "sent " + std::to_string(payload.size()) + " bytes to " +
                            Where(host, port) + " and got a " + std::to_string(got) +
                            "-byte answer");
}

// A DNS query for "stockade-selftest.invalid", type A.
std::string DnsQuery() {
  std::string q = {'\x53', '\x54', '\x01', '\x00', '\x00', '\x01',
                   '\x00', '\x00', '\x00', '\x00', '\x00', '\x00'};
  for (const char* label : {"stockade-selftest", "invalid"}) {
    q += static_cast<char>(std::strlen(label));
    q += label;
  }
  q += std::string("\x00\x00\x01\x00\x01", 5);
  return q;
}

std::uint16_t Checksum(const unsigned char* data, std::size_t size) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (size % 2) sum += data[size - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// An ICMP echo through `type` (SOCK_RAW needs CAP_NET_RAW; SOCK_DGRAM is the ping socket).
ProbeReport IcmpProbe(std::string_view probe, const std::string& host, int type) {
  if (host.empty()) return Failed(probe, "missing argument host=");
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!MakeAddress(host, 0, &addr, &len) || addr.ss_family != AF_INET) {
    return Failed(probe, "not an IPv4 address: " + host);
  }
  const char* kind = type == SOCK_RAW ? "SOCK_RAW" : "SOCK_DGRAM";
  Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, IPPROTO_ICMP));
  if (!fd.ok()) {
    return Blocked(probe,
                   ErrnoText(std::string("socket(AF_INET, ") + kind + ", IPPROTO_ICMP)", errno));
  }
  unsigned char packet[16] = {ICMP_ECHO, 0, 0, 0, 0x12, 0x34, 0, 1, 's', 't', 'k', 'd'};
  const std::uint16_t sum = Checksum(packet, sizeof(packet));
  packet[2] = static_cast<unsigned char>(sum >> 8);
  packet[3] = static_cast<unsigned char>(sum & 0xff);
  if (::sendto(fd.get(), packet, sizeof(packet), 0, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    return Blocked(
        probe, std::string(kind) + " socket opened; " + ErrnoText("sendto(" + host + ")", errno));
  }
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, kTimeoutMs) <= 0) {
    return Blocked(
        probe, std::string(kind) + " ICMP echo sent to " + host + ", no reply in 3 s (dropped)");
  }
  return Allowed(probe, std::string(kind) + " ICMP echo to " + host + " answered");
}

}  // namespace

bool RunNetProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out) {
  const std::string host = args.Get("host");
  const int port = static_cast<int>(args.GetInt("port", 0));
  const std::string marker = args.Get("marker");
  if (name == "tcp-out" || name == "ipv6-out") {
    *out = TcpProbe(name, host, port, marker);
  } else if (name == "loopback-denied" || name == "loopback-allowed") {
    *out = TcpProbe(name, host.empty() ? "127.0.0.1" : host, port, marker);
  } else if (name == "udp-out") {
    *out = UdpProbe(name, host, port, "stockade-selftest " + marker + " udp-out\n");
  } else if (name == "dns") {
    *out = UdpProbe(name, host, port, DnsQuery());
  } else if (name == "raw-icmp") {
    *out = IcmpProbe(name, host, SOCK_RAW);
  } else if (name == "icmp-ping") {
    *out = IcmpProbe(name, host, SOCK_DGRAM);
  } else {
    return false;
  }
  return true;
}

}  // namespace stockade::runner::selftest::linux_probes
