#include "audit/linux/nflog_reader.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

// libnetfilter_log's header needs these types first.
#include <libnetfilter_log/libnetfilter_log.h>
#include <linux/netfilter/nfnetlink_log.h>

#include <cerrno>
#include <cstring>

namespace stockade::audit::linux_os {

struct NflogReader::Handles {
  nflog_handle* handle = nullptr;
  nflog_g_handle* group = nullptr;
  ~Handles() {
    if (group != nullptr) nflog_unbind_group(group);
    if (handle != nullptr) nflog_close(handle);
  }
};

namespace {

std::string AddrPort(int family, const void* addr, std::optional<std::uint16_t> port) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, addr, text, sizeof(text));
  std::string a = family == AF_INET6 ? "[" + std::string(text) + "]" : std::string(text);
  if (port) a += ":" + std::to_string(*port);
  return a;
}

}  // namespace

std::string DescribeNflogPacket(const NflogPacket& p) {
  std::string s = "nflog family=" + p.family + " proto=" + p.protocol;
  if (p.uid) s += " uid=" + std::to_string(*p.uid);
  if (p.gid) s += " gid=" + std::to_string(*p.gid);
  s += " src=" + p.source + " dst=" + p.destination;
  if (!p.prefix.empty()) s += " prefix=\"" + p.prefix + "\"";
  return s;
}

bool ParseLoggedPacket(const unsigned char* data, std::size_t len, NflogPacket* out) {
  if (len < 1) return false;
  const int version = data[0] >> 4;
  std::size_t l4 = 0;
  int proto = -1;
  const void *src = nullptr, *dst = nullptr;
  int family = 0;
  if (version == 4 && len >= 20) {
    family = AF_INET;
    l4 = static_cast<std::size_t>(data[0] & 0x0f) * 4;
    proto = data[9];
    src = data + 12;
    dst = data + 16;
    out->family = "inet";
  } else if (version == 6 && len >= 40) {
    // Extension headers are not followed: Stockade's rules log TCP/UDP/ICMPv6 sent by local
    // sockets, which carry none in practice.
    family = AF_INET6;
    l4 = 40;
    proto = data[6];
    src = data + 8;
    dst = data + 24;
    out->family = "inet6";
  } else {
    return false;
  }
  std::optional<std::uint16_t> sport, dport;
  if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && len >= l4 + 4) {
    sport = static_cast<std::uint16_t>(data[l4] << 8 | data[l4 + 1]);
    dport = static_cast<std::uint16_t>(data[l4 + 2] << 8 | data[l4 + 3]);
  }
  out->protocol = proto == IPPROTO_TCP      ? "tcp"
                  : proto == IPPROTO_UDP    ? "udp"
                  : proto == IPPROTO_ICMP   ? "icmp"
                  : proto == IPPROTO_ICMPV6 ? "icmpv6"
                                            : "proto " + std::to_string(proto);
  out->source = AddrPort(family, src, sport);
  out->destination = AddrPort(family, dst, dport);
  return true;
}

namespace {

int NflogCallback(nflog_g_handle*, nfgenmsg*, nflog_data* nfd, void* data) {
  auto* self = static_cast<NflogReader*>(data);
  NflogPacket p;
  timeval tv{};
  if (nflog_get_timestamp(nfd, &tv) == 0) {
    p.time = static_cast<TimeNs>(tv.tv_sec) * 1'000'000'000 + tv.tv_usec * 1000;
  } else {
    p.time = NowNs();
  }
  std::uint32_t id = 0;
  if (nflog_get_uid(nfd, &id) == 0) p.uid = id;
  if (nflog_get_gid(nfd, &id) == 0) p.gid = id;
  if (const char* prefix = nflog_get_prefix(nfd); prefix != nullptr) p.prefix = prefix;
  char* payload = nullptr;
  const int len = nflog_get_payload(nfd, &payload);
  if (len <= 0 || !ParseLoggedPacket(reinterpret_cast<const unsigned char*>(payload),
                                     static_cast<std::size_t>(len), &p)) {
    return 0;  // not an IP packet: nothing Stockade can name
  }
  self->Deliver(std::move(p));
  return 0;
}

}  // namespace

Expected<std::unique_ptr<NflogReader>> NflogReader::Open(std::uint16_t group) {
  std::unique_ptr<NflogReader> r(new NflogReader());
  r->group_ = group;
  r->h_ = std::make_unique<Handles>();
  r->h_->handle = nflog_open();
  if (r->h_->handle == nullptr) {
    const int err = errno;
    return ErrnoError(err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kOs,
                      "opening an nfnetlink_log handle", err);
  }
  r->h_->group = nflog_bind_group(r->h_->handle, group);
  if (r->h_->group == nullptr) {
    const int err = errno;
    return ErrnoError(
        err == EPERM   ? ErrorCode::kPermissionDenied
        : err == EBUSY ? ErrorCode::kAlreadyExists
                       : ErrorCode::kOs,
        "binding NFLOG group " + std::to_string(group) + " (another program may be reading it)",
        err);
  }
  if (nflog_set_mode(r->h_->group, NFULNL_COPY_PACKET, 128) < 0) {
    return ErrnoError(ErrorCode::kOs,
                      "setting the copy mode of NFLOG group " + std::to_string(group), errno);
  }
  if (nflog_set_flags(r->h_->group, NFULNL_CFG_F_SEQ) < 0) {
    return ErrnoError(ErrorCode::kOs,
                      "asking NFLOG group " + std::to_string(group) + " for the socket uid", errno);
  }
  // Deliver each packet at once rather than batching up to the default 1 s timeout.
  nflog_set_qthresh(r->h_->group, 1);
  nflog_set_timeout(r->h_->group, 0);
  nflog_callback_register(r->h_->group, &NflogCallback, r.get());
  const int fd = nflog_fd(r->h_->handle);
  int size = 1 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return r;
}

NflogReader::~NflogReader() = default;

int NflogReader::fd() const { return nflog_fd(h_->handle); }

Status NflogReader::ReadAvailable(const std::function<void(NflogPacket)>& sink) {
  sink_ = &sink;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::recv(fd(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == ENOBUFS) {
        ++overruns_;
        continue;
      }
      sink_ = nullptr;
      if (err == EAGAIN) return OkStatus();
      return ErrnoError(ErrorCode::kOs, "reading NFLOG group " + std::to_string(group_), err);
    }
    nflog_handle_packet(h_->handle, buf, static_cast<int>(n));
  }
}

}  // namespace stockade::audit::linux_os
