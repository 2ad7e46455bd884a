#include "runner/service/win/session_denials.h"

#include <utility>

#include "audit/win/security_log.h"
#include "core/log/logging.h"

namespace stockade::runner::service::win_os {

namespace {

// The query's upper bound is compared as text by the event-log service, whose SystemTime has 7
// fractional digits where FormatTime writes 9: one second more keeps an event stamped at the
// very end; AttributeSessionDenials applies the exact window.
constexpr audit::TimeNs kQueryEndMargin = 1'000'000'000;

// A session's query stops here: far above what one session produces, low enough that a
// machine whose log is flooded with 5157 (they are selected by time, not by process) does not
// keep the client waiting for its Exit.
constexpr std::size_t kMaxEventsPerSession = 20000;

}  // namespace

SessionDenialOutcome RecordSessionDenials(audit::Recorder* recorder,
                                          const audit::DenialScope& scope,
                                          const std::vector<audit::SessionProcess>& processes,
                                          DenialCaptureCounters& counters) {
  SessionDenialOutcome outcome;
  if (recorder == nullptr || processes.empty()) return outcome;

  audit::win_os::SecurityLogQuery query;
  query.sids = scope.sids;
  query.since = scope.start;
  query.until = scope.end != 0 ? scope.end + kQueryEndMargin : 0;
  query.max_events = kMaxEventsPerSession;
  auto read = audit::win_os::ReadSecurityLogDenials(query);
  if (!read.ok()) {
    outcome.read = read.error();
    counters.log_read_failures.fetch_add(1, std::memory_order_relaxed);
    log::Logger()->warn(
        "session {}: denials not captured, the Security log could not be read ({} so far): {}",
        scope.session_id, counters.log_read_failures.load(std::memory_order_relaxed),
        read.error().ToString());
    return outcome;
  }
  outcome.log_read = true;
  outcome.events_read = read->events_read;
  outcome.unparsed = read->unparsed.size();
  counters.events_read.fetch_add(read->events_read, std::memory_order_relaxed);
  counters.unparsed.fetch_add(read->unparsed.size(), std::memory_order_relaxed);
  if (read->truncated) {
    counters.truncated.fetch_add(1, std::memory_order_relaxed);
    log::Logger()->warn(
        "session {}: the Security log query stopped at {} events: later denials "
        "of the session are not recorded",
        scope.session_id, query.max_events);
  }
  for (const std::string& reason : read->unparsed) {
    log::Logger()->warn("session {}: a Security-log event was not understood: {}", scope.session_id,
                        reason);
  }

  outcome.attribution = audit::AttributeSessionDenials(read->denials, processes, scope);
  const audit::DenialAttribution& a = outcome.attribution;
  const std::size_t not_attributed =
      a.undated + a.outside_window + a.other_subject + a.other_process;
  counters.not_attributed.fetch_add(not_attributed, std::memory_order_relaxed);
  for (audit::Event& event : outcome.attribution.events) {
    if (Status queued = recorder->RecordAsync(std::move(event)); !queued.ok()) {
      ++outcome.record_failures;
      log::Logger()->error("session {}: a denial was not recorded: {}", scope.session_id,
                           queued.error().ToString());
    } else {
      ++outcome.recorded;
    }
  }
  outcome.attribution.events.clear();
  counters.recorded.fetch_add(outcome.recorded, std::memory_order_relaxed);
  counters.record_failures.fetch_add(outcome.record_failures, std::memory_order_relaxed);
  log::Logger()->info(
      "session {}: {} denial(s) recorded from {} Security-log event(s) ({} within the slack; "
      "not this session's: {} other process, {} other user, {} outside the window, {} undated; "
      "{} unparsed)",
      scope.session_id, outcome.recorded, outcome.events_read, a.within_slack, a.other_process,
      a.other_subject, a.outside_window, a.undated, outcome.unparsed);
  return outcome;
}

}  // namespace stockade::runner::service::win_os
