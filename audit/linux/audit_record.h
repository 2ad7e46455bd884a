// Kernel audit records as text, parsed; and their assembly into events.
//
// A record reads "audit(1700000000.123:42): name=value name=value ...". Records of one event
// (a syscall's SYSCALL, EXECVE, CWD, PATH, PROCTITLE, and any LANDLOCK_* logged during it)
// share the serial (42) and end with an EOE record. Values are either "quoted" (no spaces or
// quotes inside), (null), bare words/numbers, or - for strings the kernel calls untrusted (argv,
// paths, cwd, comm, exe, proctitle) when they hold a space, quote, control or non-ASCII byte -
// upper-case hex of the bytes.
#ifndef STOCKADE_AUDIT_LINUX_AUDIT_RECORD_H_
#define STOCKADE_AUDIT_LINUX_AUDIT_RECORD_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/event.h"
#include "core/error.h"

namespace stockade::audit::linux_os {

// Record types Stockade reads (linux/audit.h; the Landlock ones are newer than Debian 12's
// header).
inline constexpr std::uint16_t kRecordSyscall = 1300;
inline constexpr std::uint16_t kRecordPath = 1302;
inline constexpr std::uint16_t kRecordSockaddr = 1306;
inline constexpr std::uint16_t kRecordCwd = 1307;
inline constexpr std::uint16_t kRecordExecve = 1309;
inline constexpr std::uint16_t kRecordEoe = 1320;
inline constexpr std::uint16_t kRecordProctitle = 1327;
inline constexpr std::uint16_t kRecordSeccomp = 1326;  // a seccomp action the filter asked to log
inline constexpr std::uint16_t kRecordLandlockAccess = 1423;
inline constexpr std::uint16_t kRecordLandlockDomain = 1424;

struct AuditRecord {
  std::uint16_t type = 0;
  TimeNs time = 0;
  std::uint64_t serial = 0;
  std::string text;  // the whole record, kept as evidence
  // name -> raw value, in order (a name may repeat only across records, not within one).
  std::vector<std::pair<std::string, std::string>> fields;

  // The raw value of `name`, or nullptr.
  const std::string* Find(std::string_view name) const;
};

// Parses one record's text. Errors: kInvalidArgument naming what is malformed (no
// "audit(...):" header, a bad time or serial).
Expected<AuditRecord> ParseAuditRecord(std::uint16_t type, std::string_view text);

// Decodes an untrusted string value: "quoted" -> its content; (null) -> ""; hex -> its bytes.
// A value that is neither (e.g. a bare word) is returned as is.
std::string DecodeUntrusted(std::string_view raw);
// Integer fields: decimal (e.g. pid=, exit=-13) or, with base 16, syscall arguments (a0=).
std::optional<std::int64_t> ParseInt(std::string_view raw, int base = 10);

// The records of one serial, in arrival order.
struct AuditEvent {
  std::uint64_t serial = 0;
  TimeNs time = 0;
  std::vector<AuditRecord> records;

  // The first record of a type, or nullptr.
  const AuditRecord* First(std::uint16_t type) const;
};

// Groups records by serial. An event is complete at its EOE record; a record logged outside a
// syscall (no EOE follows: the serial has no SYSCALL record) is completed when it is older than
// `standalone_timeout`; a SECCOMP record opening a serial is complete at once (seccomp acts
// before the syscall's audit entry: always standalone). Thread-compatible (one reader thread
// owns it).
class EventAssembler {
 public:
  using Sink = std::function<void(AuditEvent)>;
  EventAssembler(Sink sink, std::chrono::milliseconds standalone_timeout)
      : sink_(std::move(sink)), timeout_(standalone_timeout) {}

  void Add(AuditRecord record);
  // Completes events that have waited longer than the timeout (call it periodically).
  void Expire();
  // Completes every pending event (at shutdown).
  void Flush();
  std::size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    AuditEvent event;
    std::chrono::steady_clock::time_point first_seen;
  };
  Sink sink_;
  std::chrono::milliseconds timeout_;
  std::map<std::uint64_t, Pending> pending_;
};

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_AUDIT_RECORD_H_
