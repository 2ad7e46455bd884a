// Audit events as syslog messages: RFC 5424 formatting (one structured-data element carrying the
// event's fields) and RFC 6587 octet-counting framing for TCP. Pure string code, portable; the
// transport is audit/syslog/forwarder.h. docs/audit-review.md lists the parameters per kind.
#ifndef STOCKADE_AUDIT_SYSLOG_RFC5424_H_
#define STOCKADE_AUDIT_SYSLOG_RFC5424_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.h"
#include "core/error.h"

namespace stockade::audit::syslog {

// The SD-ID of Stockade's element. RFC 5424 §7.2.2 wants "name@<private enterprise number>";
// 32473 is the number IANA reserves for documentation and examples (RFC 5612). A deployment
// with its own number sets SyslogOptions::sd_id.
inline constexpr char kDefaultSdId[] = "stockade@32473";

struct SyslogOptions {
  // Facility 13 is "log audit" in RFC 5424's table. 0-23.
  int facility = 13;
  std::string app_name = "stockade";  // 1-48 printable US-ASCII characters
  std::string procid;                 // "" = NILVALUE ("-")
  std::string sd_id = kDefaultSdId;   // 1-32 printable US-ASCII, no '=', ' ', ']', '"'
  // Longest parameter value kept (bytes, after escaping is NOT counted); longer values (the
  // raw evidence of a denial, a huge argv) are cut at a UTF-8 boundary and the element gets
  // truncated="<names>". Keeps a message under the receiver's limit (rsyslog: 8 KiB default,
  // raise $MaxMessageSize for evidence).
  std::size_t max_value_bytes = 4096;
};

struct SdParam {
  std::string name;   // 1-32 printable US-ASCII, no '=', ' ', ']', '"'
  std::string value;  // any bytes: made valid UTF-8 (U+FFFD) and escaped when formatted
};

// One RFC 5424 message before serialisation.
struct SyslogMessage {
  int facility = 13;
  int severity = 6;                               // 0 emergency ... 7 debug
  TimeNs time = 0;                                // 0 = NILVALUE
  std::string hostname, app_name, procid, msgid;  // "" = NILVALUE
  std::string sd_id;                              // "" = no structured data ("-")
  std::vector<SdParam> params;
  std::string msg;  // free text after the structured data; "" = none
};

// Escapes an SD-PARAM value (RFC 5424 §6.3.3): '"', '\' and ']' get a backslash; bytes that are
// not valid UTF-8 become U+FFFD (the grammar requires UTF-8). Nothing else is changed.
std::string EscapeParamValue(std::string_view value);

// Replaces characters outside printable US-ASCII (33-126) with '_' and cuts to `max`, or
// returns "-" for an empty result: for HOSTNAME, APP-NAME, PROCID, MSGID, SD-ID and names.
std::string PrintUsAscii(std::string_view text, std::size_t max);

// RFC 3339 timestamp as RFC 5424 allows it: UTC, "Z", at most 6 fractional digits
// ("2026-11-22T08:15:38.123456Z").
std::string FormatTimestamp(TimeNs time);

// Serialises `message`: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG". Header
// fields are made printable US-ASCII and cut to their RFC lengths (255, 48, 128, 32);
// facility and severity are clamped to their ranges.
std::string Format(const SyslogMessage& message);

// RFC 6587 §3.4.1 octet counting: "<decimal byte length of message> <message>".
std::string FrameOctetCounted(std::string_view message);

// Builds the message for one stored event: MSGID = the kind ("session", "process", "denial",
// "provisioning"); severity 4 (warning) for denials, 5 (notice) for sessions and provisioning,
// 6 (informational) for processes; HOSTNAME = the event's host; TIMESTAMP = the event's time.
// Parameters: seq, version, time (full nanosecond RFC 3339), session, kind, then the body's
// fields (argv as a JSON array of strings). MSG: a one-line summary.
SyslogMessage FromEvent(const Event& event, const SyslogOptions& options);

// Format(FromEvent(event, options)).
std::string FormatEvent(const Event& event, const SyslogOptions& options);

}  // namespace stockade::audit::syslog

#endif  // STOCKADE_AUDIT_SYSLOG_RFC5424_H_
