#include "audit/linux/proc_exit_reader.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace stockade::audit::linux_os {

bool SignalDeathOf(std::int64_t pid, std::int64_t tgid, std::uint32_t exit_code,
                   std::int64_t parent_tgid, SignalDeath* out) {
  // A thread's own exit is not the process's; the leader's exit carries the group's status.
  if (pid != tgid || pid <= 0) return false;
  const std::uint32_t signal = exit_code & 0x7f;
  // 0: exited with a code (audit's exit_group record has it); 0x7f: stopped, not dead.
  if (signal == 0 || signal == 0x7f) return false;
  out->pid = pid;
  out->ppid = parent_tgid;
  out->signal = signal;
  out->core_dumped = (exit_code & 0x80) != 0;
  out->time = NowNs();
  return true;
}

Expected<std::unique_ptr<ProcExitReader>> ProcExitReader::Open() {
  std::unique_ptr<ProcExitReader> r(new ProcExitReader());
  r->fd_.Reset(::socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR));
  if (!r->fd_.valid()) {
    const int err = errno;
    return ErrnoError(err == EPERM || err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kOs,
                      "opening the process-events connector (NETLINK_CONNECTOR)", err);
  }
  // A storm of exits on the machine must not overflow the socket between two reads.
  const int size = 8 << 20;
  if (::setsockopt(r->fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    (void)::setsockopt(r->fd_.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  addr.nl_pid = 0;  // the kernel picks a unique port id
  if (::bind(r->fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    return ErrnoError(err == EPERM || err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kOs,
                      "joining the process-events connector group", err);
  }
  STOCKADE_RETURN_IF_ERROR(r->SendOp(PROC_CN_MCAST_LISTEN));
  return r;
}

ProcExitReader::~ProcExitReader() {
  if (fd_.valid()) (void)SendOp(PROC_CN_MCAST_IGNORE);
}

Status ProcExitReader::SendOp(std::uint32_t op) {
  // nlmsghdr | cn_msg | enum proc_cn_mcast_op
  alignas(nlmsghdr) unsigned char buf[NLMSG_SPACE(sizeof(cn_msg) + sizeof(std::uint32_t))] = {};
  auto* nl = reinterpret_cast<nlmsghdr*>(buf);
  nl->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(std::uint32_t));
  nl->nlmsg_type = NLMSG_DONE;
  nl->nlmsg_pid = 0;
  auto* cn = reinterpret_cast<cn_msg*>(buf + NLMSG_HDRLEN);
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->len = sizeof(std::uint32_t);
  std::memcpy(cn->data, &op, sizeof(op));
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), buf, nl->nlmsg_len, 0, reinterpret_cast<const sockaddr*>(&to),
               sizeof(to)) < 0) {
    return ErrnoError(ErrorCode::kOs,
                      op == PROC_CN_MCAST_LISTEN
                          ? "asking for process events (PROC_CN_MCAST_LISTEN)"
                          : "leaving process events (PROC_CN_MCAST_IGNORE)",
                      errno);
  }
  return OkStatus();
}

Status ProcExitReader::ReadAvailable(const std::function<void(const SignalDeath&)>& sink) {
  std::vector<unsigned char> buf(64 * 1024);
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN) return OkStatus();
      if (err == ENOBUFS) {
        ++overruns_;
        continue;
      }
      return ErrnoError(ErrorCode::kOs, "reading the process-events connector", err);
    }
    int left = static_cast<int>(n);
    for (auto* nl = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(nl, left);
         nl = NLMSG_NEXT(nl, left)) {
      if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP) continue;
      if (nl->nlmsg_len < NLMSG_LENGTH(sizeof(cn_msg))) continue;
      const auto* cn = reinterpret_cast<const cn_msg*>(reinterpret_cast<const unsigned char*>(nl) +
                                                       NLMSG_HDRLEN);
      if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
      if (cn->len < sizeof(proc_event) - sizeof(proc_event{}.event_data) ||
          nl->nlmsg_len < NLMSG_LENGTH(sizeof(cn_msg) + cn->len)) {
        continue;
      }
      ++messages_;
      proc_event ev{};
      std::memcpy(&ev, cn->data, std::min<std::size_t>(cn->len, sizeof(ev)));
      if (ev.what != proc_event::PROC_EVENT_EXIT) continue;
      SignalDeath death;
      if (SignalDeathOf(ev.event_data.exit.process_pid, ev.event_data.exit.process_tgid,
                        ev.event_data.exit.exit_code, ev.event_data.exit.parent_tgid, &death)) {
        sink(death);
      }
    }
  }
}

}  // namespace stockade::audit::linux_os
