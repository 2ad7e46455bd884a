// Windows Security-log events as the Event Log API renders them (EvtRender with
// EvtRenderEventXml), parsed without any Windows header so that the parsing is tested on Linux
// and under Wine from fixtures (tests/data/audit/win-event-*.xml); the EvtQuery side lives in
// audit/win/security_log.h. docs/audit-capture-windows.md describes what is read and why.
//
// The parser is small and strict: it accepts the subset of XML 1.0 that the Event Log produces
// (elements, attributes in single or double quotes, character data, the five predefined
// entities and numeric character references, comments, CDATA, one leading XML declaration) and
// refuses everything else -- a DOCTYPE (no entity definitions, so no expansion attacks), an
// unknown entity, an unclosed or mismatched element, text after the root -- with the byte
// offset of the problem. Elements are matched by local name (the event namespace prefix, if
// any, is ignored).
#ifndef STOCKADE_AUDIT_WINDOWS_EVENT_XML_H_
#define STOCKADE_AUDIT_WINDOWS_EVENT_XML_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.h"
#include "core/error.h"

namespace stockade::audit {

// <System><Keywords> bits of the Security log (documented on the event pages).
inline constexpr std::uint64_t kKeywordAuditFailure = 0x0010000000000000ULL;
inline constexpr std::uint64_t kKeywordAuditSuccess = 0x0020000000000000ULL;

// The event ids Stockade turns into denials.
inline constexpr std::uint32_t kEventHandleRequested = 4656;  // failure: object access refused
inline constexpr std::uint32_t kEventWfpBlocked = 5157;       // WFP blocked a connection

// Deepest element nesting accepted (the event schema needs 4; this bounds the recursion on
// hostile input).
inline constexpr int kMaxEventXmlDepth = 32;

// One <EventData><Data Name="...">value</Data>; name is "" for an unnamed <Data>.
struct WindowsEventDatum {
  std::string name;
  std::string value;  // entities decoded, UTF-8
};

// The fields of one rendered event that Stockade reads.
struct WindowsEventRecord {
  std::string provider;                 // System/Provider/@Name
  std::uint32_t event_id = 0;           // System/EventID
  std::uint64_t keywords = 0;           // System/Keywords (0x... hex)
  std::string system_time;              // System/TimeCreated/@SystemTime as written
  TimeNs time = 0;                      // the same, parsed (0 when absent)
  std::uint64_t record_id = 0;          // System/EventRecordID
  std::string channel;                  // System/Channel
  std::string computer;                 // System/Computer
  std::string user_sid;                 // System/Security/@UserID ("" when absent)
  std::int64_t logging_pid = 0;         // System/Execution/@ProcessID (the process that logged it)
  std::vector<WindowsEventDatum> data;  // EventData/Data in document order

  // The value of the first <Data Name=name>; nullptr when there is none.
  const std::string* Find(std::string_view name) const;
};

// Parses one rendered event (root element <Event>). Errors: kInvalidArgument with
// "event XML: <what> at offset N" for malformed XML, and naming the missing element for an
// event without <System>, <EventID> or a parsable number.
Expected<WindowsEventRecord> ParseWindowsEventXml(std::string_view xml);

// A denial parsed from an event, with what the event says about the process (for correlation
// with the process capture).
struct WindowsDenialFact {
  DenialEvent denial;         // category, target, access, pid, source, evidence (the XML)
  std::string subject_sid;    // 4656: SubjectUserSid; 5157: "" (the event has no user)
  std::string process_image;  // 4656: ProcessName; 5157: Application (a \device\... path)
  TimeNs time = 0;            // TimeCreated
  std::uint64_t record_id = 0;
};

// Turns a parsed 4656 (must carry the audit-failure keyword) or 5157 event into a denial:
//  4656: target = ObjectName; category file_write when the requested AccessMask holds a
//        modifying right (WriteData, AppendData, WriteEA, WriteAttributes, DeleteChild, DELETE,
//        WRITE_DAC, WRITE_OWNER, GENERIC_WRITE/ALL), else file_read when it holds a reading right,
//        else other; non-file objects (ObjectType other than File) are "other". access = the
//        requested rights by their documented names ("WriteData|AppendData"); pid = ProcessId
//        (hex). When AccessMask is absent the AccessList codes (%%4416...) are used.
//  5157: target = DestAddress:DestPort ("[v6]:port"); category network; access =
//        "connect tcp" / "send udp" (outbound), "accept tcp" / "receive udp" (inbound),
//        "<direction> protocol N" otherwise; pid = ProcessID (decimal).
// `xml` becomes the evidence. Errors: kInvalidArgument naming the event id that is not one of
// these, a 4656 without the failure keyword, or the missing/unparsable field.
Expected<WindowsDenialFact> DenialFromWindowsEvent(const WindowsEventRecord& record,
                                                   std::string_view xml);

// ParseWindowsEventXml + DenialFromWindowsEvent.
Expected<WindowsDenialFact> ParseWindowsDenialXml(std::string_view xml);

// The documented names of the file access rights in `mask`, "|"-joined, lowest bit first
// ("ReadData|WriteData"); bits without a name come as one trailing "0x..." term.
std::string FileAccessNames(std::uint32_t mask);

// The XPath query (Event Log query language) that selects, from the Security channel, the
// failed handle requests (4656 with the audit-failure keyword) whose SubjectUserSid is one of
// `sids`, and every WFP block (5157: the event carries no user, so it is filtered by process
// afterwards), created at or after `since` and at or before `until` (0: no bound on that side).
// Errors: kInvalidArgument for an empty `sids` or a SID that is not "S-" followed by digits and
// dashes (it is spliced into the query text).
Expected<std::string> SecurityDenialXPath(const std::vector<std::string>& sids, TimeNs since,
                                          TimeNs until = 0);

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_WINDOWS_EVENT_XML_H_
