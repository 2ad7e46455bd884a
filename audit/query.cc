#include "audit/query.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "audit/canonical.h"
#include "audit/schema.h"
#include "audit/store.h"
#include "core/sqlite/database.h"

namespace stockade::audit {

namespace fs = std::filesystem;

namespace {

fs::path U8Path(const std::string& utf8) {
  return fs::path(std::u8string(utf8.begin(), utf8.end()));
}

std::string PathU8(const fs::path& p) {
  const std::u8string s = p.u8string();
  return std::string(s.begin(), s.end());
}

bool HasSeparator(const std::string& s) {
  return s.find('/') != std::string::npos || s.find('\\') != std::string::npos;
}

// A range covering at most this share of a segment's time span is read through the time index.
constexpr double kTimeIndexMaxShare = 0.125;

// Filters that usually keep a small part of the events, and that the index entries answer.
bool HasSelectiveFilter(const QueryFilter& filter) {
  return !filter.session_id.empty() || !filter.identity.empty() || !filter.workspace.empty() ||
         !filter.image.empty();
}

// Whether to read through events_filter (time, session_id, kind, image) rather than in seq
// order. The index reads only the time range and tests the other filters in its entries,
// fetching only matching rows; but they come in time order and must be sorted by seq
// afterwards. Reading in seq order needs no sort and starts from after_seq at once (tail,
// paging). So the index serves:
//  - a time range covering a small share of the segment's time span (SQLite has no
//    statistics to judge that; this estimates it from the segment's first and last event
//    times, assuming events spread evenly: a wrong guess costs time, never results);
//  - a session, identity, workspace or image filter read from the start: scanning the narrow
//    index whole costs a fraction of scanning the table, and only the matches are sorted.
// A version 1 archive has no events_filter: SQLite then picks among that file's own indexes.
Expected<bool> UseTimeIndex(sqlite::Database& db, const QueryFilter& filter) {
  if (HasSelectiveFilter(filter) && filter.after_seq == 0) return true;
  if (!filter.since && !filter.until) return false;
  // Two scalar subqueries: each min()/max() is one index seek, not a scan.
  auto bounds = db.Prepare("SELECT (SELECT min(time) FROM events), (SELECT max(time) FROM events)");
  if (!bounds.ok()) return bounds.error();
  auto row = bounds->Step();
  if (!row.ok()) return row.error();
  if (!*row || bounds->IsNull(0)) return true;  // empty: either plan reads nothing
  const double lo = static_cast<double>(bounds->Int(0));
  const double hi = static_cast<double>(bounds->Int(1));
  const double from = filter.since ? std::max(lo, static_cast<double>(*filter.since)) : lo;
  const double to = filter.until ? std::min(hi, static_cast<double>(*filter.until)) : hi;
  if (to <= from) return true;  // an empty range or one instant: the index finds it at once
  return (to - from) <= kTimeIndexMaxShare * (hi - lo);
}

// Whether `db` has events_filter (a store or archive of schema version 2 or later).
Expected<bool> HasFilterIndex(sqlite::Database& db) {
  auto stmt =
      db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_filter'");
  if (!stmt.ok()) return stmt.error();
  return stmt->Step();
}

// How QueryDb reads the events table.
enum class Access {
  kSeqOrder,     // NOT INDEXED: by seq (the rowid), from after_seq
  kFilterIndex,  // INDEXED BY events_filter
  kPlanner,      // a version 1 file: SQLite chooses among its indexes
};

// The SQL of QueryDb's statement (parameters ?1..?8 as bound there). The access path is
// pinned rather than left to the planner: without statistics it takes the seq order whenever
// the time range is open on one side, because that spares the sort.
std::string QuerySql(const QueryFilter& filter, Access access) {
  std::string sql = "SELECT seq, data FROM events";
  if (access == Access::kSeqOrder) sql += " NOT INDEXED";
  if (access == Access::kFilterIndex) sql += " INDEXED BY events_filter";
  sql += " WHERE seq > ?1";
  if (filter.since) sql += " AND time >= ?2";
  if (filter.until) sql += " AND time < ?3";
  if (filter.kind) sql += " AND kind = ?4";
  if (!filter.session_id.empty()) sql += " AND session_id = ?5";
  if (!filter.identity.empty() || !filter.workspace.empty()) {
    sql += " AND session_id IN (SELECT session_id FROM sessions WHERE 1";
    if (!filter.identity.empty()) sql += " AND identity = ?6";
    if (!filter.workspace.empty()) sql += " AND workspace = ?7";
    sql += ")";
  }
  if (!filter.image.empty()) {
    if (HasSeparator(filter.image)) {
      sql += " AND image = ?8";
    } else {
      // The file name after the last '/' or '\'.
      sql +=
          " AND image IS NOT NULL AND (image = ?8 OR image LIKE '%/' || ?8 ESCAPE '^' OR "
          "image LIKE '%\\' || ?8 ESCAPE '^')";
    }
  }
  sql += " ORDER BY seq";
  return sql;
}

Expected<sqlite::Statement> PrepareQuery(sqlite::Database& db, const QueryFilter& filter,
                                         const std::string& prefix = "") {
  auto time_index = UseTimeIndex(db, filter);
  if (!time_index.ok()) return time_index.error();
  Access access = Access::kSeqOrder;
  if (*time_index) {
    auto has = HasFilterIndex(db);
    if (!has.ok()) return has.error();
    access = *has ? Access::kFilterIndex : Access::kPlanner;
  }
  auto stmt = db.Prepare(prefix + QuerySql(filter, access));
  if (!stmt.ok()) return stmt.error();
  STOCKADE_RETURN_IF_ERROR(stmt->Bind(1, filter.after_seq));
  if (filter.since) STOCKADE_RETURN_IF_ERROR(stmt->Bind(2, *filter.since));
  if (filter.until) STOCKADE_RETURN_IF_ERROR(stmt->Bind(3, *filter.until));
  if (filter.kind) STOCKADE_RETURN_IF_ERROR(stmt->Bind(4, static_cast<int>(*filter.kind)));
  if (!filter.session_id.empty()) STOCKADE_RETURN_IF_ERROR(stmt->Bind(5, filter.session_id));
  if (!filter.identity.empty()) STOCKADE_RETURN_IF_ERROR(stmt->Bind(6, filter.identity));
  if (!filter.workspace.empty()) STOCKADE_RETURN_IF_ERROR(stmt->Bind(7, filter.workspace));
  if (!filter.image.empty()) {
    std::string image = filter.image;
    if (!HasSeparator(image)) {
      // LIKE wildcards in a file name are literal here.
      std::string escaped;
      for (char c : image) {
        if (c == '%' || c == '_' || c == '^') escaped += '^';
        escaped += c;
      }
      image = escaped;
    }
    STOCKADE_RETURN_IF_ERROR(stmt->Bind(8, image));
  }
  return stmt;
}

// One segment's events matching `filter`, in seq order.
Status QueryDb(sqlite::Database& db, const QueryFilter& filter, std::size_t& emitted,
               const std::function<Status(const Event&)>& fn) {
  auto stmt = PrepareQuery(db, filter);
  if (!stmt.ok()) return stmt.error();
  while (filter.limit == 0 || emitted < filter.limit) {
    auto row = stmt->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    const sqlite::Blob data = stmt->BlobValue(1);
    auto event =
        DecodeCanonical(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    if (!event.ok()) {
      return event.error().Wrap("audit event #" + std::to_string(stmt->Int(0)) + " in " +
                                db.path() + " (run `stockade audit verify`)");
    }
    // The filter ran on the indexed columns; the decoded event is what is reported, so that
    // a tampered column cannot make an event show something it does not hold.
    if (!filter.image.empty() && HasSeparator(filter.image)) {
      const auto* p = std::get_if<ProcessEvent>(&event->body);
      if (p == nullptr || p->image != filter.image) continue;
    }
    ++emitted;
    STOCKADE_RETURN_IF_ERROR(fn(*event));
  }
  return OkStatus();
}

}  // namespace

struct AuditReader::Impl {
  std::string path;
  std::string archive_dir;
  sqlite::Database db;
};

AuditReader::AuditReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuditReader::AuditReader(AuditReader&&) noexcept = default;
AuditReader& AuditReader::operator=(AuditReader&&) noexcept = default;
AuditReader::~AuditReader() = default;

const std::string& AuditReader::store_path() const { return impl_->path; }

Expected<AuditReader> AuditReader::Open(const std::string& store_path) {
  auto db = schema::OpenReadOnly(store_path);
  if (!db.ok()) return db.error();
  auto impl =
      std::unique_ptr<Impl>(new Impl{store_path, ArchiveDirFor(store_path), std::move(*db)});
  return AuditReader(std::move(impl));
}

Status AuditReader::ForEach(const QueryFilter& filter,
                            const std::function<Status(const Event&)>& fn) {
  std::size_t emitted = 0;
  if (filter.include_archives) {
    auto seals = schema::ReadSeals(impl_->db);
    if (!seals.ok()) return seals.error();
    for (const auto& seal : *seals) {
      if (seal.removed_at) continue;
      if (seal.info.last_seq <= filter.after_seq) continue;
      if (filter.since && seal.info.last_time < *filter.since) continue;
      if (filter.until && seal.info.first_time >= *filter.until) continue;
      if (filter.limit != 0 && emitted >= filter.limit) return OkStatus();
      const std::string file = PathU8(U8Path(impl_->archive_dir) / seal.info.archive_file);
      auto adb = schema::OpenReadOnly(file);
      if (!adb.ok()) {
        return adb.error().Wrap("reading the archive of segment " +
                                std::to_string(seal.info.segment));
      }
      STOCKADE_RETURN_IF_ERROR(QueryDb(*adb, filter, emitted, fn));
    }
  }
  if (filter.limit != 0 && emitted >= filter.limit) return OkStatus();
  return QueryDb(impl_->db, filter, emitted, fn);
}

Expected<std::vector<Event>> AuditReader::Query(const QueryFilter& filter) {
  std::vector<Event> out;
  Status s = ForEach(filter, [&out](const Event& e) {
    out.push_back(e);
    return OkStatus();
  });
  if (!s.ok()) return s.error();
  return out;
}

Expected<std::vector<std::string>> AuditReader::ExplainQuery(const QueryFilter& filter) {
  auto stmt = PrepareQuery(impl_->db, filter, "EXPLAIN QUERY PLAN ");
  if (!stmt.ok()) return stmt.error();
  std::vector<std::string> lines;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    lines.push_back(stmt->Text(3));  // id, parent, notused, detail
  }
  return lines;
}

Expected<std::int64_t> AuditReader::HeadSeq() {
  return schema::GetMetaInt(impl_->db, schema::kMetaHeadSeq, 0);
}

}  // namespace stockade::audit
