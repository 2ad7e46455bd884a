// Deaths by signal, from the kernel's process-events connector (NETLINK_CONNECTOR, CN_IDX_PROC).
//
// Kernel audit records every exit that goes through exit_group (the capture's exit rule), but a
// process killed by a signal (SIGKILL of the tree, a crash, a `kill` inside the tree) makes no
// system call on its way out and leaves no audit record. The connector reports every task's
// exit with its wait status (`exit_code`: the code in bits 8-15, or the signal in bits 0-6 and
// 0x80 for a core dump); this reader keeps only what audit cannot see: thread-group leaders
// (pid == tgid) that died by a signal. Ordering against the audit records is the capture's job
// (audit/linux/capture.h holds each death until a barrier proves the dead process's earlier
// records were read).
//
// The connector is machine-wide (every process's fork/exec/exit, no uid filter) and multicast:
// when the reader falls behind the kernel drops messages (ENOBUFS), counted in overruns().
// Needs CAP_NET_ADMIN.
#ifndef STOCKADE_AUDIT_LINUX_PROC_EXIT_READER_H_
#define STOCKADE_AUDIT_LINUX_PROC_EXIT_READER_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "audit/event.h"
#include "audit/linux/unique_fd.h"
#include "core/error.h"

namespace stockade::audit::linux_os {

struct SignalDeath {
  std::int64_t pid = 0;
  std::int64_t ppid = 0;  // the parent's tgid when the kernel reports it (>= 6.2), else 0
  std::int64_t signal = 0;
  bool core_dumped = false;
  TimeNs time = 0;  // when it was read (the connector's timestamp is not wall-clock time)
};

// The SignalDeath of a connector exit message's fields, or false when it is not a thread-group
// leader's death by a signal (an exit with a code, a thread exiting alone).
bool SignalDeathOf(std::int64_t pid, std::int64_t tgid, std::uint32_t exit_code,
                   std::int64_t parent_tgid, SignalDeath* out);

class ProcExitReader {
 public:
  // Opens the connector socket, joins the process-events group and asks the kernel to send
  // events (PROC_CN_MCAST_LISTEN). Errors: kPermissionDenied without CAP_NET_ADMIN; kOs.
  static Expected<std::unique_ptr<ProcExitReader>> Open();
  // Tells the kernel this listener is gone (PROC_CN_MCAST_IGNORE) and closes the socket.
  ~ProcExitReader();
  ProcExitReader(const ProcExitReader&) = delete;
  ProcExitReader& operator=(const ProcExitReader&) = delete;

  int fd() const { return fd_.get(); }
  // Reads every message available now (non-blocking) and calls `sink` for each signal death.
  // Errors: kOs when recv fails; ENOBUFS is counted in overruns() instead.
  Status ReadAvailable(const std::function<void(const SignalDeath&)>& sink);
  std::uint64_t overruns() const { return overruns_; }
  std::uint64_t messages() const { return messages_; }

 private:
  ProcExitReader() = default;
  Status SendOp(std::uint32_t op);

  UniqueFd fd_;
  std::uint64_t overruns_ = 0;
  std::uint64_t messages_ = 0;
};

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_PROC_EXIT_READER_H_
