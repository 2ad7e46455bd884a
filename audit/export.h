// Event serialisations for review and SIEMs: JSON (one object per line, JSONL), CSV (RFC 4180,
// one column per field of every kind) and OCSF 1.x (Process Activity 1007, File System Activity
// 1001, Network Activity 4001). JSON and CSV parse back to the same events (the round trip the
// tests check); OCSF is one-way. Field mappings in docs/audit-events.md ("Exports").
#ifndef STOCKADE_AUDIT_EXPORT_H_
#define STOCKADE_AUDIT_EXPORT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.h"
#include "core/error.h"

namespace stockade::audit {

// One event as a single-line JSON object (no trailing newline):
//   {"seq":1,"version":1,"time":"<RFC 3339 ns>","host":"...","session_id":"...",
//    "kind":"process","process":{...body fields...}}
// Times inside bodies are RFC 3339 strings, or null when 0. Bytes that are not valid UTF-8
// become U+FFFD (JSON text must be UTF-8).
std::string EventToJson(const Event& event);

// Parses what EventToJson wrote. Errors: kInvalidArgument naming the missing or mistyped field.
Expected<Event> EventFromJson(std::string_view json);

// The CSV header line (no trailing newline): every envelope field, then the union of the body
// fields; a field a kind lacks is an empty cell. argv is a JSON array in one cell.
std::string CsvHeader();
// One event as a CSV record (no trailing newline; fields with ',', '"', CR or LF are quoted).
// String cells that a spreadsheet would run as a formula (starting with = + - @ TAB CR) are
// prefixed with a single quote, as is a string cell starting with a quote, so the prefix is
// removed unambiguously when parsing back.
std::string EventToCsv(const Event& event);
// Splits CSV text into records of fields (RFC 4180: quoted fields may hold newlines).
// Errors: kInvalidArgument for an unterminated quote or text after a closing quote.
Expected<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text);
// Parses one record (the fields of a line under CsvHeader()). Errors: kInvalidArgument naming
// the column.
Expected<Event> EventFromCsv(const std::vector<std::string>& fields);

// OCSF 1.x. Process events and session events (the top command) map to Process Activity
// (Launch on exec/start, Terminate on exit/end); file_read/file_write denials to File System
// Activity (Read / Update, status Failure, disposition Blocked); network denials to Network
// Activity (Refuse). Provisioning events and "other" denials have no class among these three:
// nullopt. The OCSF version written is kOcsfVersion.
inline constexpr char kOcsfVersion[] = "1.1.0";
std::optional<std::string> EventToOcsf(const Event& event);

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_EXPORT_H_
