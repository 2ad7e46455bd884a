// The kernel audit subsystem over NETLINK_AUDIT, without libaudit (not installed on the target
// machines, and only a few messages are needed): read and change the audit status (enabled flag,
// failure mode, daemon pid, backlog), list, add and delete rules, and receive records.
//
// Two roles of a socket:
//  - a command socket (Command*): request/acknowledge, used from any thread that holds it;
//  - a record socket: either the registered audit daemon's socket (records are unicast to it,
//    and the kernel throttles producers instead of dropping while it reads: lossless up to the
//    backlog wait time) or a member of the read-only multicast group (best effort: the kernel
//    drops what does not fit in the socket buffer). The kernel sends records to the socket that
//    registered the daemon pid, so registration is done on the record socket itself.
//
// Kernel quirk handled here: the kernel sets nlmsg_len of an audit record to the payload length
// (without the 16-byte header), so records are read one datagram at a time and their text taken
// up to the end of the datagram.
#ifndef STOCKADE_AUDIT_LINUX_AUDIT_NETLINK_H_
#define STOCKADE_AUDIT_LINUX_AUDIT_NETLINK_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/linux/unique_fd.h"
#include "core/error.h"

namespace stockade::audit::linux_os {

// struct audit_status, the fields Stockade reads and restores.
struct AuditStatus {
  std::uint32_t enabled = 0;  // 0 off, 1 on, 2 locked (immutable until reboot)
  std::uint32_t failure = 0;  // 0 silent, 1 printk, 2 panic
  std::uint32_t pid = 0;      // the registered audit daemon, 0 = none
  std::uint32_t rate_limit = 0;
  std::uint32_t backlog_limit = 0;
  std::uint32_t lost = 0;     // records the kernel dropped since boot
  std::uint32_t backlog = 0;  // records queued now
  std::uint32_t backlog_wait_time = 0;

  // The configuration (what Stockade may change and must put back), not the counters.
  bool SameConfig(const AuditStatus& o) const {
    return enabled == o.enabled && failure == o.failure && pid == o.pid &&
           rate_limit == o.rate_limit && backlog_limit == o.backlog_limit &&
           backlog_wait_time == o.backlog_wait_time;
  }
  std::string Describe() const;
};

// Which fields of an AUDIT_SET request apply (AUDIT_STATUS_* bits).
enum AuditStatusField : std::uint32_t {
  kStatusEnabled = 0x1,
  kStatusFailure = 0x2,
  kStatusPid = 0x4,
  kStatusRateLimit = 0x8,
  kStatusBacklogLimit = 0x10,
  kStatusBacklogWaitTime = 0x20,
};

// One record as received: its type (AUDIT_SYSCALL, AUDIT_EXECVE, ...) and its text
// ("audit(1700000000.123:42): key=value ...").
struct RawRecord {
  std::uint16_t type = 0;
  std::string text;
};

class AuditSocket {
 public:
  enum class Mode { kCommand, kMulticast };
  // Opens a NETLINK_AUDIT socket; kMulticast joins the read-only log group (needs
  // CAP_AUDIT_READ). rcvbuf_bytes: the receive buffer to ask for (SO_RCVBUFFORCE as root).
  // Errors: kPermissionDenied without the capability, kOs otherwise (named).
  static Expected<AuditSocket> Open(Mode mode, int rcvbuf_bytes = 1 << 20);

  AuditSocket(AuditSocket&&) noexcept = default;
  AuditSocket& operator=(AuditSocket&&) noexcept = default;

  int fd() const { return fd_.get(); }

  // AUDIT_GET. Errors: kOs / kPermissionDenied naming the request.
  Expected<AuditStatus> GetStatus();
  // AUDIT_SET of the fields in `mask` (AuditStatusField bits), acknowledged by the kernel.
  // Registering this process as the daemon (kStatusPid with our pid) makes this socket the one
  // records are unicast to. Errors: the kernel's errno (e.g. EEXIST: another daemon is alive).
  Status SetStatus(std::uint32_t mask, const AuditStatus& values);
  // AUDIT_LIST_RULES: every rule in the kernel, each as the raw struct audit_rule_data bytes.
  Expected<std::vector<std::string>> ListRules();
  // AUDIT_ADD_RULE / AUDIT_DEL_RULE of one raw struct audit_rule_data. Errors: the kernel's
  // errno (EEXIST for a duplicate add, ENOENT for deleting a rule that is not there).
  Status AddRule(const std::string& rule_data);
  Status DeleteRule(const std::string& rule_data);

  // Sends a user-space message of `type` (AUDIT_FIRST_USER_MSG..) that the kernel logs as a
  // record "pid=... uid=... msg='<text>'" through the same queue as every other record: the
  // capture's barrier. Needs CAP_AUDIT_WRITE and auditing enabled.
  Status SendUserMessage(std::uint16_t type, const std::string& text);

  // Waits up to `timeout` for one record (audit records only: acknowledgements and other
  // netlink messages are skipped). nullopt on timeout. Errors: kOs when recv fails, except
  // ENOBUFS (the socket buffer overflowed: counted in overruns(), reading continues).
  Expected<std::optional<RawRecord>> Receive(std::chrono::milliseconds timeout);
  // Times recv reported ENOBUFS (records lost before they reached this socket).
  std::uint64_t overruns() const { return overruns_; }

 private:
  AuditSocket() = default;
  // Sends one request and waits for its acknowledgement (and, for AUDIT_GET, its reply).
  Status Request(std::uint16_t type, const void* payload, std::size_t len, std::string* reply,
                 std::uint16_t reply_type, const char* what);

  UniqueFd fd_;
  std::uint32_t seq_ = 0;
  std::uint64_t overruns_ = 0;
};

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_AUDIT_NETLINK_H_
