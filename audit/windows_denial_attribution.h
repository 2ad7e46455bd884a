// Attribution of Windows Security-log denials (audit/windows_event_xml.h) to one session and to
// the process of that session that was refused, from what the session's process capture
// (audit/win/process_collector.h) recorded. Portable and pure, so that the rules are tested on
// Linux and under Wine from fixtures; the Windows service feeds it the events it read with
// audit/win/security_log.h at the end of each session. docs/audit-capture-windows.md
// ("Denials: attribution") states the rules and their limits.
//
// Why pid *and* time: both sandbox identities are shared by every session of the machine, so a
// 4656 naming the offline identity's SID may come from a concurrent session; and 5157 names no
// user at all, only a process id, which Windows reuses. A denial belongs to this session only
// when its pid names a process of this session's tree at the time of the event; the collector
// keeps a handle on every process of the tree until its exit, so while a process lives its pid
// cannot name anything else.
#ifndef STOCKADE_AUDIT_WINDOWS_DENIAL_ATTRIBUTION_H_
#define STOCKADE_AUDIT_WINDOWS_DENIAL_ATTRIBUTION_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "audit/event.h"
#include "audit/windows_event_xml.h"

namespace stockade::audit {

// One process of a session, as its exec and exit events describe it.
struct SessionProcess {
  std::string guid;
  std::int64_t pid = 0;
  TimeNs start = 0;  // creation time; 0 = not known (the process was gone when announced)
  TimeNs end = 0;    // exit time; 0 = not known

  bool operator==(const SessionProcess&) const = default;
};

// Collects a session's process list from the process events its capture emits (the sink of
// the collector calls Add from the collector's thread; the service reads Processes() once the
// collector finished). Thread-safe.
class SessionProcessIndex {
 public:
  // Takes the GUID, pid and times of an exec or exit ProcessEvent; other kinds are ignored. The
  // exec and exit events of one process (same GUID) are merged; a known time is never replaced
  // by an unknown (0) one.
  void Add(const Event& event);
  // Every process seen so far, by GUID order.
  std::vector<SessionProcess> Processes() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, SessionProcess> by_guid_;  // guarded by mu_
};

// What a session's denials must match.
struct DenialScope {
  std::string session_id;         // stamped on every attributed event
  std::vector<std::string> sids;  // a 4656 must name one of these as SubjectUserSid
  TimeNs start = 0;               // the session's window (the event's TimeCreated must lie in
  TimeNs end = 0;                 // [start, end]; end 0 = open)
  // Tolerance on a process's lifetime bounds (the log's clock and GetProcessTimes are the same
  // system clock, but an event stamped at the exit instant must not be lost).
  TimeNs slack = 100'000'000;  // 100 ms
};

struct DenialAttribution {
  // kDenial events in input order: session_id = scope.session_id, time = the event's
  // TimeCreated, body = the fact's denial with process_guid set.
  std::vector<Event> events;
  std::size_t undated = 0;         // the event had no TimeCreated: not attributed
  std::size_t outside_window = 0;  // before the session's start or after its end
  std::size_t other_subject = 0;   // a 4656 whose SubjectUserSid is not one of scope.sids
  std::size_t other_process = 0;   // no process of the session had that pid at that time
  std::size_t within_slack = 0;    // attributed, but only within `slack` of a lifetime bound
};

// Attributes each fact to the session and to one of `processes`:
//  1. TimeCreated 0 -> undated; outside [scope.start, scope.end] -> outside_window;
//  2. a 4656 (source kWin4656) whose subject_sid is not in scope.sids (compared without regard
//     to case) -> other_subject; a 5157 carries no user and is judged by its pid alone;
//  3. the processes with the denial's pid whose lifetime contains the time (an unknown bound is
//     open); of several, the one started last before the time (a pid reused within the session
//     after an exit names the later process);
//  4. failing that, the processes whose lifetime widened by `slack` contains it, the one whose
//     nearer bound is closest (counted within_slack);
//  5. failing that -> other_process (another session's tree, or a program outside any tree):
//     never recorded against this session.
DenialAttribution AttributeSessionDenials(const std::vector<WindowsDenialFact>& facts,
                                          const std::vector<SessionProcess>& processes,
                                          const DenialScope& scope);

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_WINDOWS_DENIAL_ATTRIBUTION_H_
