// Denials from the Windows Security log: EvtQuery on the "Security" channel with the XPath of
// SecurityDenialXPath (audit/windows_event_xml.h: failed handle requests 4656 of the sandbox
// SIDs and WFP blocks 5157), each event rendered as XML (EvtRender, EvtRenderEventXml) and
// parsed by the portable parser. Reading the Security log needs SeSecurityPrivilege (the
// service, LocalSystem, has it; an administrator's elevated token too). Wine has no Security log
// (its event-log API is a stub), so this runs on real Windows only; see
// docs/audit-capture-windows.md.
#ifndef STOCKADE_AUDIT_WIN_SECURITY_LOG_H_
#define STOCKADE_AUDIT_WIN_SECURITY_LOG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "audit/event.h"
#include "audit/windows_event_xml.h"
#include "core/error.h"

namespace stockade::audit::win_os {

struct SecurityLogQuery {
  std::vector<std::string> sids;    // the sandbox identities' user SIDs ("S-1-5-21-...")
  TimeNs since = 0;                 // only events created at or after this time (0: all)
  TimeNs until = 0;                 // only events created at or before this time (0: all)
  std::size_t max_events = 100000;  // stop after this many (a runaway log must not exhaust us)
  // How long one EvtNext may wait for the next batch: the service reads the log before it
  // tells its client the run ended, so a stalled event-log service must not hold that up.
  std::uint32_t batch_timeout_ms = 10000;
};

struct SecurityLogResult {
  std::vector<WindowsDenialFact> denials;
  // Rendered events the parser refused, with its reason (kept as evidence of the gap, never
  // silently dropped).
  std::vector<std::string> unparsed;
  std::size_t events_read = 0;
  bool truncated = false;  // max_events reached
};

// The rendered XML of every event the query selects, oldest first.
// Errors: kInvalidArgument from SecurityDenialXPath; kPermissionDenied without
// SeSecurityPrivilege; kUnsupported when the event-log service answers that the channel or
// the query is not supported (Wine: ERROR_CALL_NOT_IMPLEMENTED, no channel, or -- Wine 8 --
// no handle and no error at all); kTimeout when
// EvtNext waited batch_timeout_ms; kOs otherwise, naming EvtQuery / EvtNext / EvtRender.
Expected<std::vector<std::string>> ReadSecurityLogXml(const SecurityLogQuery& query,
                                                      bool* truncated = nullptr);

// ReadSecurityLogXml, each event parsed into a denial (ParseWindowsDenialXml). Denials are not
// yet attributed to a process GUID: the caller correlates by pid and time with the process
// capture.
Expected<SecurityLogResult> ReadSecurityLogDenials(const SecurityLogQuery& query);

}  // namespace stockade::audit::win_os

#endif  // STOCKADE_AUDIT_WIN_SECURITY_LOG_H_
