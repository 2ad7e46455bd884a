#include "audit/linux/audit_netlink.h"

#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace stockade::audit::linux_os {
namespace {

constexpr std::size_t kRecvBuffer = 1 << 16;  // one audit record is at most ~8 KiB

// Kernel record types occupy 1100..2999 (user messages 1100-1199 and 2100-2999 included).
bool IsRecordType(std::uint16_t type) { return type >= 1100 && type < 3000; }

}  // namespace

std::string AuditStatus::Describe() const {
  return "enabled=" + std::to_string(enabled) + " failure=" + std::to_string(failure) +
         " pid=" + std::to_string(pid) + " rate_limit=" + std::to_string(rate_limit) +
         " backlog_limit=" + std::to_string(backlog_limit) +
         " backlog_wait_time=" + std::to_string(backlog_wait_time) +
         " lost=" + std::to_string(lost) + " backlog=" + std::to_string(backlog);
}

Expected<AuditSocket> AuditSocket::Open(Mode mode, int rcvbuf_bytes) {
  AuditSocket s;
  s.fd_.Reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!s.fd_.valid()) {
    const int err = errno;
    return ErrnoError(err == EPERM || err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kOs,
                      "opening a NETLINK_AUDIT socket", err);
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = mode == Mode::kMulticast ? (1U << (AUDIT_NLGRP_READLOG - 1)) : 0;
  if (::bind(s.fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    return ErrnoError(err == EPERM || err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kOs,
                      mode == Mode::kMulticast
                          ? "joining the audit multicast group (needs CAP_AUDIT_READ)"
                          : "binding a NETLINK_AUDIT socket",
                      err);
  }
  // A large buffer absorbs bursts (a spawn storm is ~13 records per process). FORCE needs
  // CAP_NET_ADMIN; fall back to the capped size without it.
  if (::setsockopt(s.fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf_bytes, sizeof(rcvbuf_bytes)) !=
      0) {
    ::setsockopt(s.fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(rcvbuf_bytes));
  }
  return s;
}

Status AuditSocket::Request(std::uint16_t type, const void* payload, std::size_t len,
                            std::string* reply, std::uint16_t reply_type, const char* what) {
  const std::uint32_t seq = ++seq_;
  std::string msg(NLMSG_SPACE(len), '\0');
  auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
  nlh->nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(len));
  nlh->nlmsg_type = type;
  const bool dump = type == AUDIT_LIST_RULES;
  nlh->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0) |
                                                (reply == nullptr ? NLM_F_ACK : 0));
  nlh->nlmsg_seq = seq;
  if (len > 0) std::memcpy(msg.data() + NLMSG_HDRLEN, payload, len);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
    const int err = errno;
    return ErrnoError(err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kOs,
                      std::string("sending ") + what + " to the kernel audit subsystem", err);
  }
  std::string buf(kRecvBuffer, '\0');
  for (;;) {
    pollfd p{fd_.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, 5000);
    if (ready == 0) {
      return Error(ErrorCode::kTimeout,
                   std::string("no answer from the kernel audit subsystem to ") + what);
    }
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR || err == ENOBUFS) continue;
      return ErrnoError(ErrorCode::kOs, std::string("reading the answer to ") + what, err);
    }
    auto len_left = static_cast<unsigned int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len_left);
         h = NLMSG_NEXT(h, len_left)) {
      if (h->nlmsg_seq != seq) continue;  // a late answer to an earlier request
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e =
            reinterpret_cast<const nlmsgerr*>(reinterpret_cast<const char*>(h) + NLMSG_HDRLEN);
        if (e->error == 0) {
          if (reply == nullptr) return OkStatus();
          continue;
        }
        const int err = -e->error;
        return ErrnoError(err == EPERM || err == EACCES ? ErrorCode::kPermissionDenied
                          : err == EEXIST               ? ErrorCode::kAlreadyExists
                          : err == ENOENT               ? ErrorCode::kNotFound
                                                        : ErrorCode::kOs,
                          std::string("the kernel audit subsystem refused ") + what, err);
      }
      if (h->nlmsg_type == NLMSG_DONE) return OkStatus();
      if (reply != nullptr && h->nlmsg_type == reply_type) {
        const std::size_t payload_len = h->nlmsg_len - NLMSG_HDRLEN;
        const char* data = reinterpret_cast<const char*>(h) + NLMSG_HDRLEN;
        if (dump) {
          // Each rule is appended with a 4-byte length prefix (decoded by ListRules).
          const auto l = static_cast<std::uint32_t>(payload_len);
          reply->append(reinterpret_cast<const char*>(&l), sizeof(l));
          reply->append(data, payload_len);
        } else {
          reply->assign(data, payload_len);
          return OkStatus();
        }
      }
    }
  }
}

Expected<AuditStatus> AuditSocket::GetStatus() {
  std::string reply;
  STOCKADE_RETURN_IF_ERROR(Request(AUDIT_GET, nullptr, 0, &reply, AUDIT_GET, "AUDIT_GET"));
  audit_status s{};
  std::memcpy(&s, reply.data(), std::min(reply.size(), sizeof(s)));
  AuditStatus out;
  out.enabled = s.enabled;
  out.failure = s.failure;
  out.pid = s.pid;
  out.rate_limit = s.rate_limit;
  out.backlog_limit = s.backlog_limit;
  out.lost = s.lost;
  out.backlog = s.backlog;
  out.backlog_wait_time = s.backlog_wait_time;
  return out;
}

Status AuditSocket::SetStatus(std::uint32_t mask, const AuditStatus& v) {
  audit_status s{};
  s.mask = mask;
  s.enabled = v.enabled;
  s.failure = v.failure;
  s.pid = v.pid;
  s.rate_limit = v.rate_limit;
  s.backlog_limit = v.backlog_limit;
  s.backlog_wait_time = v.backlog_wait_time;
  return Request(AUDIT_SET, &s, sizeof(s), nullptr, 0, "AUDIT_SET");
}

Expected<std::vector<std::string>> AuditSocket::ListRules() {
  std::string packed;
  STOCKADE_RETURN_IF_ERROR(
      Request(AUDIT_LIST_RULES, nullptr, 0, &packed, AUDIT_LIST_RULES, "AUDIT_LIST_RULES"));
  std::vector<std::string> rules;
  std::size_t off = 0;
  while (off + sizeof(std::uint32_t) <= packed.size()) {
    std::uint32_t l = 0;
    std::memcpy(&l, packed.data() + off, sizeof(l));
    off += sizeof(l);
    rules.push_back(packed.substr(off, l));
    off += l;
  }
  return rules;
}

Status AuditSocket::AddRule(const std::string& rule_data) {
  return Request(AUDIT_ADD_RULE, rule_data.data(), rule_data.size(), nullptr, 0, "AUDIT_ADD_RULE");
}

Status AuditSocket::DeleteRule(const std::string& rule_data) {
  return Request(AUDIT_DEL_RULE, rule_data.data(), rule_data.size(), nullptr, 0, "AUDIT_DEL_RULE");
}

Status AuditSocket::SendUserMessage(std::uint16_t type, const std::string& text) {
  std::string payload = text;
  payload.push_back('\0');
  return Request(type, payload.data(), payload.size(), nullptr, 0, "an audit user message");
}

Expected<std::optional<RawRecord>> AuditSocket::Receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string buf(kRecvBuffer, '\0');
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::optional<RawRecord>();
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR || err == EAGAIN) continue;
      if (err == ENOBUFS) {
        ++overruns_;
        continue;
      }
      return ErrnoError(ErrorCode::kOs, "reading kernel audit records", err);
    }
    if (static_cast<std::size_t>(n) < NLMSG_HDRLEN) continue;
    const auto* h = reinterpret_cast<const nlmsghdr*>(buf.data());
    if (!IsRecordType(h->nlmsg_type)) continue;
    RawRecord r;
    r.type = h->nlmsg_type;
    r.text.assign(buf.data() + NLMSG_HDRLEN, static_cast<std::size_t>(n) - NLMSG_HDRLEN);
    while (!r.text.empty() && (r.text.back() == '\0' || r.text.back() == '\n')) {
      r.text.pop_back();
    }
    return std::optional<RawRecord>(std::move(r));
  }
}

}  // namespace stockade::audit::linux_os
