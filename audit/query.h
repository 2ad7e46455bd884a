// Reading the audit store: events matching a filter, across the sealed archives and the active
// store, in sequence order. Read-only: opens the files without the writer, safe while the
// service records (WAL readers see committed batches only). Used by `stockade audit
// query|export|tail`, the HTML report and syslog forwarding.
#ifndef STOCKADE_AUDIT_QUERY_H_
#define STOCKADE_AUDIT_QUERY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "core/error.h"

namespace stockade::audit {

struct QueryFilter {
  std::optional<TimeNs> since;  // event time >= since
  std::optional<TimeNs> until;  // event time < until
  std::string session_id;       // "" = any
  // Sessions started by this identity / in this workspace (exact realpath): matches the
  // session's own events and every process and denial event of those sessions.
  std::string identity;
  std::string workspace;
  // Process events whose image is this path; a value without a path separator matches the
  // file name of the image ("python3" matches "/usr/bin/python3").
  std::string image;
  std::optional<EventKind> kind;
  std::int64_t after_seq = 0;    // seq > after_seq (tail, paging)
  std::size_t limit = 0;         // at most this many events; 0 = all
  bool include_archives = true;  // also read sealed archives that still exist
};

// A read-only view of a store and its archives. Not thread-safe: one per thread.
class AuditReader {
 public:
  // Opens the store at `store_path` (and lists <folder>/archive). Errors: kNotFound when the
  // store does not exist; kPermissionDenied when it cannot be read (it is the service's
  // alone: run as root / administrator); kStateTooNew / kStateCorrupt; kDatabase.
  static Expected<AuditReader> Open(const std::string& store_path);

  AuditReader(AuditReader&&) noexcept;
  AuditReader& operator=(AuditReader&&) noexcept;
  ~AuditReader();

  // Calls `fn` for each matching event in ascending seq; stops at the first error `fn`
  // returns (and returns it). Errors: kStateCorrupt naming the seq of an event whose stored
  // bytes do not decode; database errors naming the file.
  Status ForEach(const QueryFilter& filter, const std::function<Status(const Event&)>& fn);

  // All matching events (ForEach into a vector).
  Expected<std::vector<Event>> Query(const QueryFilter& filter);

  // How SQLite reads the active store for `filter`: the detail column of EXPLAIN QUERY PLAN,
  // one line per step (e.g. "SEARCH events USING INDEX events_filter (time>? AND
  // time<?)"). For diagnosing slow queries and for the tests that pin the indexes used.
  Expected<std::vector<std::string>> ExplainQuery(const QueryFilter& filter);

  // The last committed sequence number in the active store (0 when none).
  Expected<std::int64_t> HeadSeq();

  const std::string& store_path() const;

  struct Impl;

 private:
  explicit AuditReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_QUERY_H_
