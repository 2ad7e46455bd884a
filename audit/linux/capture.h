// Linux audit capture: every exec, exit and denial of the sandbox identities, as audit
// ProcessEvent / DenialEvent values attributed to Stockade sessions. The service starts one
// Capture (Start) with the identities' uids and the NFLOG group of its nftables table, registers
// each run (AddSession with the tree's first pid) and ends it (EndSession) after the tree is gone.
//
// Sources: kernel audit records read over NETLINK_AUDIT (audit/linux/audit_netlink.h, rules in
// audit/linux/audit_rules.h, kernel configuration kept and restored by
// audit/linux/kernel_audit_config.h), assembled by serial (audit/linux/audit_record.h), decoded
// (audit/linux/record_decoder.h) and attributed (audit/linux/correlator.h); and NFLOG packets
// (audit/linux/nflog_reader.h); and deaths by signal, which leave no audit record, from the
// process-events connector (audit/linux/proc_exit_reader.h). One reader thread polls them and
// calls the callback; the
// callback must not call back into Capture and should return quickly (hand the event to
// Recorder::RecordAsync): while it blocks, the kernel's audit queue fills and, as the audit
// daemon, Stockade then slows the audited processes down rather than losing records.
// See docs/audit-capture-linux.md for what is captured and the limits.
#ifndef STOCKADE_AUDIT_LINUX_CAPTURE_H_
#define STOCKADE_AUDIT_LINUX_CAPTURE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/event.h"
#include "audit/linux/audit_netlink.h"
#include "audit/linux/audit_record.h"
#include "audit/linux/correlator.h"
#include "audit/linux/kernel_audit_config.h"
#include "audit/linux/nflog_reader.h"
#include "audit/linux/proc_exit_reader.h"
#include "audit/linux/record_decoder.h"
#include "audit/linux/unique_fd.h"
#include "core/error.h"

namespace stockade::audit::linux_os {

struct CaptureOptions {
  std::vector<std::uint32_t> uids;            // the sandbox identities (at least one)
  std::optional<std::uint16_t> nflog_group;   // the nftables table's log group; none: no NFLOG
  std::string runtime_dir = "/run/stockade";  // lock and saved kernel configuration
  bool register_daemon = true;                // see KernelAuditRequest
  std::uint32_t min_backlog_limit = 8192;
  std::chrono::milliseconds pending_timeout{10000};
};

struct CaptureStats {
  bool audit_daemon = false;  // true: unicast as the registered daemon; false: multicast
  std::uint64_t records = 0;  // audit records read
  std::uint64_t malformed_records = 0;
  std::uint64_t socket_overruns = 0;  // ENOBUFS on the record socket (records lost to us)
  std::uint64_t kernel_lost = 0;      // the kernel's lost counter, since Start
  std::uint32_t backlog_limit = 0;
  std::uint64_t nflog_packets = 0;
  std::uint64_t nflog_overruns = 0;
  std::uint64_t signal_deaths = 0;  // deaths by signal read from the connector (any process)
  std::uint64_t proc_connector_overruns = 0;  // ENOBUFS on the connector socket
  // seccomp records of the filter's ENOSYS answers (clone3, for libc to fall back to clone):
  // read and dropped, not denials (docs/audit-capture-linux.md).
  std::uint64_t seccomp_compat_refusals = 0;
  CorrelatorStats correlator;
};

class Capture {
 public:
  using Callback = std::function<void(Event)>;

  // Takes over the kernel audit configuration (KernelAuditGuard::Acquire: lock, clean-up of a
  // killed predecessor, snapshot, rules for `options.uids`), binds the NFLOG group and starts
  // the reader thread. Errors: kInvalidArgument without uids; those of Acquire and
  // NflogReader::Open (the configuration is then already put back).
  static Expected<std::unique_ptr<Capture>> Start(const CaptureOptions& options, Callback callback);
  // Stops if Stop() was not called.
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Registers a run: `root_pid` is the tree's first process (ProcessTree::pid()), `uid` its
  // identity. Records that arrived before the call are attributed now.
  void AddSession(const std::string& session_id, std::int64_t root_pid, std::int64_t uid);
  // After the tree has ended: waits (at most `timeout`) until every record logged so far has
  // been read and attributed, then forgets the session. Errors: kTimeout (the session is still
  // forgotten; late records of it are then unattributed).
  Status EndSession(const std::string& session_id, std::chrono::milliseconds timeout);
  // Waits until every audit record logged before the call, every NFLOG packet and every death
  // by signal queued before it, has been handed to the callback. It sends a user message through
  // the kernel's audit queue and waits for it to come back. Errors: kTimeout; kOs when sending
  // fails.
  Status Sync(std::chrono::milliseconds timeout);

  // Stops the reader, removes the rules and puts the kernel configuration back, then compares
  // it with the snapshot. Errors: kVerificationFailed naming what differs.
  Status Stop();

  CaptureStats Stats();
  // The configuration found at Start (for tests and diagnostics).
  const KernelAuditSnapshot& found() const { return guard_->found(); }

 private:
  Capture() = default;
  void Run();
  void OnRecord(RawRecord raw);
  void DrainNflog();
  // Reads the connector into held_deaths_ (unassigned). Called with mu_ held.
  void DrainDeathsLocked();
  // Sends a barrier and assigns its token to every unassigned held death. mu_ held.
  Status SendBarrierLocked(std::uint64_t* token);

  CaptureOptions options_;
  Callback callback_;
  std::string rule_key_;
  std::optional<AuditSocket> record_socket_;
  std::optional<AuditSocket> command_socket_;  // barrier messages, status reads
  std::optional<KernelAuditGuard> guard_;
  std::unique_ptr<NflogReader> nflog_;
  std::unique_ptr<ProcExitReader> proc_exits_;
  std::unique_ptr<Correlator> correlator_;
  std::unique_ptr<EventAssembler> assembler_;  // reader thread only
  UniqueFd wake_;                              // eventfd: stop the reader
  std::thread reader_;
  bool stopped_ = true;

  std::mutex mu_;  // guards the fields below and command_socket_
  std::condition_variable barrier_cv_;
  std::uint64_t barrier_sent_ = 0;
  std::uint64_t barrier_seen_ = 0;
  std::uint64_t records_ = 0;
  std::uint64_t malformed_ = 0;
  std::uint64_t nflog_packets_ = 0;
  std::uint64_t socket_overruns_ = 0;
  std::uint64_t signal_deaths_ = 0;
  DecodeCounts decode_counts_;
  // Deaths by signal wait here until a barrier sent after they were read comes back: the dead
  // process's exec and fork records were logged before it died, so they have then been read and
  // the death cannot overtake them (an exit applied before the exec it ends would be lost).
  // Token 0: no barrier assigned yet.
  std::vector<std::pair<std::uint64_t, SignalDeath>> held_deaths_;
  std::uint64_t internal_barrier_ = 0;  // the reader's own outstanding barrier; 0: none
};

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_CAPTURE_H_
