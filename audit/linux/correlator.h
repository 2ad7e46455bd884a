// Attribution of decoded audit facts and NFLOG packets to Stockade sessions and process GUIDs.
//
// A session is registered with the pid of its tree's first process (the launcher's clone child,
// which exec's the command) and the identity's uid. From then on:
//  - an exec by a pid already tracked (a fork child, or a process exec'ing again) or whose
//    ppid is tracked belongs to that session; an exec by the root pid starts it. Each exec gets a
//    new process GUID; its parent GUID is the image that was running in that pid just before
//    (for a fresh fork child, the parent's image; for an exec chain, the previous image) - so
//    subshells that fork without exec'ing are transparent;
//  - a fork (clone in the parent) tracks the child pid with the parent's current image;
//  - exit_group ends the process: an exit event for a pid that exec'd (a fork child that never
//    exec'd runs its parent's image: no event of its own); so does a death by signal, which the
//    capture reports through OnSignalDeath;
//  - a denial is attributed to the process that made the syscall (or, when only its parent is
//    known yet, to the parent's image it still runs).
// Facts that cannot be attributed yet (records of a tree arrive before the service registers
// it; a child's exec may be logged before its parent's clone returns) wait, indexed by pid and
// ppid, and are retried whenever that pid becomes known; after `pending_timeout` they are
// dropped and counted (stats().unattributed).
// NFLOG packets carry only the socket's uid: they go to the session of that uid (the most
// recent one when several runs of one identity overlap - stated in the evidence); a packet of a
// uid without a session waits like a pending fact.
//
// Thread-safe: every method takes the object's lock; events are handed to the sink after the
// lock is released, in order, from the calling thread.
#ifndef STOCKADE_AUDIT_LINUX_CORRELATOR_H_
#define STOCKADE_AUDIT_LINUX_CORRELATOR_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/event.h"
#include "audit/linux/nflog_reader.h"
#include "audit/linux/proc_exit_reader.h"
#include "audit/linux/record_decoder.h"

namespace stockade::audit::linux_os {

struct CorrelatorStats {
  std::uint64_t exec_events = 0;
  std::uint64_t exit_events = 0;
  std::uint64_t denial_events = 0;
  std::uint64_t forks_tracked = 0;
  std::uint64_t pending = 0;       // facts waiting for their process now
  std::uint64_t unattributed = 0;  // facts dropped after the pending timeout
};

class Correlator {
 public:
  using Sink = std::function<void(Event)>;
  explicit Correlator(Sink sink,
                      std::chrono::milliseconds pending_timeout = std::chrono::seconds(10));

  // Registers a session: its tree's first pid and its identity's uid. Pending facts of that pid
  // (and of its descendants) are attributed now.
  void AddSession(const std::string& session_id, std::int64_t root_pid, std::int64_t uid);
  // Forgets a session and every process tracked for it. Call after the tree has ended and its
  // records were read (Capture::EndSession does both).
  void RemoveSession(const std::string& session_id);

  void OnFact(AuditFact fact);
  // A death by signal (audit/linux/proc_exit_reader.h), once every audit record logged before
  // it was read. Applied when the pid is tracked, or queued behind a pending fact of that pid;
  // ignored otherwise (the connector reports every process of the machine).
  void OnSignalDeath(const SignalDeath& death);
  void OnNflog(const NflogPacket& packet);
  // Drops pending facts older than the timeout.
  void Expire();

  CorrelatorStats stats() const;

 private:
  struct Proc {
    std::string session;
    std::string guid;           // the image running in this pid now
    std::int64_t guid_pid = 0;  // the pid that exec'd that image (this one, or an ancestor)
    std::string parent_guid;    // of that image
    std::int64_t parent_pid = 0;
    std::int64_t ppid = 0;  // the pid's parent as last seen (fork or exec record)
    bool own_exec = false;  // guid was created by this pid's exec
    TimeNs time = 0;        // of the fork or exec that created the entry
    TimeNs start = 0;
    std::string image, cwd;
    std::vector<std::string> argv;
  };
  struct Session {
    std::int64_t root_pid = 0;
    std::int64_t uid = -1;
    std::uint64_t order = 0;  // registration order
  };
  struct Pending {
    AuditFact fact;
    std::chrono::steady_clock::time_point since;
  };

  // Each returns false when the fact cannot be attributed yet (the caller queues it). Newly
  // tracked pids are appended to *tracked.
  bool Apply(const AuditFact& fact, std::vector<Event>* out, std::vector<std::int64_t>* tracked);
  bool ApplyExec(const ExecFact& f, std::vector<Event>* out, std::vector<std::int64_t>* tracked);
  bool ApplyFork(const ForkFact& f, std::vector<std::int64_t>* tracked);
  bool ApplyExit(const ExitFact& f, std::vector<Event>* out);
  bool ApplyDenial(const DenialFact& f, std::vector<Event>* out);
  void Queue(AuditFact fact);
  // Retries the pending facts indexed under each tracked pid, until nothing new is tracked.
  void Retry(std::vector<std::int64_t> tracked, std::vector<Event>* out);
  void Emit(std::vector<Event> events);
  std::string NewGuid();
  // The most recent session of `uid`; "" when none. *count: how many sessions have that uid.
  std::string SessionOfUid(std::int64_t uid, int* count) const;
  // The denial event for a packet, or false when no session has its uid.
  bool NflogDenial(const NflogPacket& packet, std::vector<Event>* out);

  Sink sink_;
  std::chrono::milliseconds pending_timeout_;
  mutable std::mutex mu_;
  std::mutex emit_mu_;  // keeps events of concurrent callers in order
  std::unordered_map<std::string, Session> sessions_;
  std::unordered_map<std::int64_t, std::string> roots_;  // root pid -> session
  std::unordered_map<std::int64_t, Proc> procs_;
  std::map<std::uint64_t, Pending> pending_;  // by arrival
  std::unordered_multimap<std::int64_t, std::uint64_t> pending_by_pid_;
  // NFLOG packets of a uid without a session yet (the tree connects before AddSession).
  std::deque<std::pair<NflogPacket, std::chrono::steady_clock::time_point>> pending_nflog_;
  std::uint64_t next_pending_ = 0;
  std::uint64_t next_order_ = 0;
  std::uint64_t guid_high_ = 0;
  std::uint64_t guid_counter_ = 0;
  CorrelatorStats stats_;
};

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_CORRELATOR_H_
