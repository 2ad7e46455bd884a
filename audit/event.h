// The audit event model (version 1, documented in docs/audit-events.md): one envelope shared by
// every event and one plain-data body per kind. Producers (the service, the Linux and Windows
// capture, the provisioner) fill these structs and hand them to an audit::Recorder; the store
// assigns `seq`, fills `time`/`host` when left empty, encodes the event canonically
// (audit/canonical.h) and chains it with SHA-256.
//
// Strings are byte strings, expected to be UTF-8. The canonical encoding and the hash chain keep
// the exact bytes (argv on Linux need not be UTF-8); the JSON/CSV exports replace invalid UTF-8
// with U+FFFD.
#ifndef STOCKADE_AUDIT_EVENT_H_
#define STOCKADE_AUDIT_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace stockade::audit {

// The version of the event model and of its canonical encoding. Stored with every event, so a
// store holding events of several versions stays verifiable. Bump on any change of fields.
inline constexpr int kEventModelVersion = 1;

// Nanoseconds since the Unix epoch, UTC. 0 means "not known" (or, for Event::time, "now").
using TimeNs = std::int64_t;

// Numeric values are part of the canonical encoding: append, never renumber.
enum class EventKind : std::uint8_t {
  kSession = 1,       // one `stockade run`: start and end
  kProcess = 2,       // one process in a tree: exec and exit
  kDenial = 3,        // one access the OS refused to a sandboxed process
  kProvisioning = 4,  // one provisioning transaction or step (the journal's record)
};

// How a process or a session ended. Fields that do not apply stay empty / false.
struct ExitStatus {
  std::optional<std::int64_t> code;    // exit code (Windows: the 32-bit exit code)
  std::optional<std::int64_t> signal;  // terminating signal (Linux)
  bool timed_out = false;              // killed because the run's timeout expired
  bool killed = false;                 // killed by the service (client gone, Signal message)

  bool operator==(const ExitStatus&) const = default;
};

enum class SessionPhase : std::uint8_t { kStart = 1, kEnd = 2 };

struct SessionEvent {
  SessionPhase phase = SessionPhase::kStart;
  std::string identity;            // "offline" | "online"
  std::string workspace;           // realpath of the granted workspace
  std::string policy_hash;         // hex SHA-256 of the effective policy
  std::int64_t invoking_uid = -1;  // caller's uid (SO_PEERCRED); -1 where not applicable
  std::string invoking_sid;        // caller's SID on Windows; "" elsewhere
  std::string invoking_user;       // caller's account name
  std::vector<std::string> argv;   // the top command
  std::string cwd;
  TimeNs start_time = 0;
  TimeNs end_time = 0;  // 0 in the start event
  ExitStatus exit;      // meaningful in the end event only

  bool operator==(const SessionEvent&) const = default;
};

enum class ProcessPhase : std::uint8_t { kExec = 1, kExit = 2 };

struct ProcessEvent {
  ProcessPhase phase = ProcessPhase::kExec;
  std::string process_guid;  // unique per process instance (host-unique; see docs)
  std::int64_t pid = 0;
  std::string parent_guid;  // "" for the tree's root
  std::int64_t parent_pid = 0;
  std::string image;  // executable path
  std::vector<std::string> argv;
  std::string cwd;
  std::int64_t uid = -1;  // the identity's uid (Linux); -1 where not applicable
  TimeNs start_time = 0;
  TimeNs end_time = 0;  // 0 in the exec event
  ExitStatus exit;      // meaningful in the exit event only

  bool operator==(const ProcessEvent&) const = default;
};

// Numeric values are part of the canonical encoding: append, never renumber.
enum class DenialCategory : std::uint8_t {
  kFileWrite = 1,
  kFileRead = 2,
  kNetwork = 3,
  kOther = 4,
};

// Where the evidence of a denial came from. Numeric values are part of the canonical encoding.
enum class DenialSource : std::uint8_t {
  kLandlock = 1,      // Linux: Landlock audit record (AUDIT_LANDLOCK_ACCESS)
  kNflog = 2,         // Linux: nftables NFLOG group of Stockade's table
  kAuditSyscall = 3,  // Linux: audit rule on EACCES/EPERM by the sandbox uids
  kWin4656 = 4,       // Windows: Security event 4656 (failed object access)
  kWin5157 = 5,       // Windows: Security event 5157 (WFP blocked a connection)
  kOther = 6,
};

struct DenialEvent {
  DenialCategory category = DenialCategory::kOther;
  std::string target;  // path, or "addr:port" ("[v6]:port")
  std::string access;  // e.g. "write", "read", "connect tcp", "sendto udp"
  std::int64_t pid = 0;
  std::string process_guid;  // "" when the process could not be correlated
  DenialSource source = DenialSource::kOther;
  std::string evidence;  // the raw record (audit line, event XML, ...) it was parsed from

  bool operator==(const DenialEvent&) const = default;
};

struct ProvisioningEvent {
  std::int64_t transaction_id = 0;
  std::string action;            // "apply", "grant", "rollback", ...
  std::int64_t step_index = -1;  // -1: the transaction itself; else the step's position
  std::string step_kind;         // "" for the transaction itself
  std::string target;            // what the step acts on (user, path, rule, ...)
  std::string outcome;           // "begun", "applied", "verified", "undone", "failed: ...", ...

  bool operator==(const ProvisioningEvent&) const = default;
};

using EventBody = std::variant<SessionEvent, ProcessEvent, DenialEvent, ProvisioningEvent>;

// The envelope plus one body. The kind is the body's alternative (kind() below), so the two
// cannot disagree.
struct Event {
  std::int64_t seq = 0;  // assigned by the store (1, 2, 3, ... without gaps); ignored on Record
  int version = kEventModelVersion;  // set by the store on Record
  TimeNs time = 0;                   // when it happened; 0 on Record means "now"
  std::string host;                  // "" on Record means this machine's host name
  std::string session_id;            // GUID string of the run; "" for provisioning events
  EventBody body;

  EventKind kind() const;
  bool operator==(const Event&) const = default;
};

// Stable names used in JSON, CSV, the CLI's --kind filter and the docs.
std::string_view EventKindName(EventKind kind);          // "session", "process", ...
std::string_view SessionPhaseName(SessionPhase phase);   // "start", "end"
std::string_view ProcessPhaseName(ProcessPhase phase);   // "exec", "exit"
std::string_view DenialCategoryName(DenialCategory c);   // "file_write", "network", ...
std::string_view DenialSourceName(DenialSource source);  // "landlock", "win_5157", ...

// Inverses of the above. Errors: kInvalidArgument naming the unknown value and what was
// expected.
Expected<EventKind> ParseEventKind(std::string_view name);
Expected<SessionPhase> ParseSessionPhase(std::string_view name);
Expected<ProcessPhase> ParseProcessPhase(std::string_view name);
Expected<DenialCategory> ParseDenialCategory(std::string_view name);
Expected<DenialSource> ParseDenialSource(std::string_view name);

// The current time as TimeNs (system clock, UTC).
TimeNs NowNs();

// RFC 3339 UTC with nanoseconds, e.g. "2026-11-22T08:15:38.123456789Z".
std::string FormatTime(TimeNs time);
// Parses RFC 3339 ("...Z" or "+hh:mm"; fraction optional, up to 9 digits) or a bare date
// "YYYY-MM-DD" (midnight UTC). Errors: kInvalidArgument naming the text.
Expected<TimeNs> ParseTime(std::string_view text);

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_EVENT_H_
