// The denials of one session, read from the Windows Security log when the session ends: the
// service queries the log (audit/win/security_log.h) for the failed handle requests (4656) of
// the session's sandbox SIDs and the WFP blocks (5157) within the session's time window,
// attributes each to the session's process by pid and time (audit/windows_denial_attribution.h)
// and records it. docs/audit-capture-windows.md ("Denials") describes the rules and what is
// verified where.
//
// Best effort by design: the run has happened and its client must hear its end, so a log that
// cannot be read (no SeSecurityPrivilege, no Security channel -- Wine --, a stalled event-log
// service) or a denial that cannot be recorded is logged and counted, never returned.
#ifndef STOCKADE_RUNNER_SERVICE_WIN_SESSION_DENIALS_H_
#define STOCKADE_RUNNER_SERVICE_WIN_SESSION_DENIALS_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "audit/recorder.h"
#include "audit/windows_denial_attribution.h"
#include "core/error.h"

namespace stockade::runner::service::win_os {

// The service's running totals (ServiceContext::denial_capture), all sessions together.
struct DenialCaptureCounters {
  std::atomic<std::uint64_t> log_read_failures{0};  // sessions whose log could not be read
  std::atomic<std::uint64_t> truncated{0};          // sessions whose query hit max_events
  std::atomic<std::uint64_t> events_read{0};        // events the queries returned
  std::atomic<std::uint64_t> unparsed{0};           // events the parser refused
  std::atomic<std::uint64_t> recorded{0};           // denials queued to the store
  std::atomic<std::uint64_t> record_failures{0};    // denials the store refused
  std::atomic<std::uint64_t> not_attributed{0};     // read, of another process or outside
};

// What one session's capture did (also added to the counters).
struct SessionDenialOutcome {
  bool log_read = false;  // the query succeeded
  Status read;            // its failure when it did not (OK when it was not attempted)
  std::size_t events_read = 0;
  std::size_t unparsed = 0;
  std::size_t recorded = 0;
  std::size_t record_failures = 0;
  audit::DenialAttribution attribution;  // events moved out once recorded; counts kept
};

// Reads the Security log for `scope` (its SIDs, its window [start, end]) and records, with
// recorder->RecordAsync, every denial AttributeSessionDenials gives to one of `processes`.
// Does nothing when `recorder` is null or `processes` is empty (no process: nothing could be
// attributed). Never fails; everything that went wrong is logged (naming the session) and
// counted in `counters`.
SessionDenialOutcome RecordSessionDenials(audit::Recorder* recorder,
                                          const audit::DenialScope& scope,
                                          const std::vector<audit::SessionProcess>& processes,
                                          DenialCaptureCounters& counters);

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_SESSION_DENIALS_H_
