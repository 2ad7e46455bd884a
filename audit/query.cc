#include "audit/query.h"

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

// One segment's events matching `filter`, in seq order.
Status QueryDb(sqlite::Database& db, const QueryFilter& filter, std::size_t& emitted,
               const std::function<Status(const Event&)>& fn) {
  std::string sql = "SELECT seq, data FROM events WHERE seq > ?1";
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
  auto stmt = db.Prepare(sql);
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

Expected<std::int64_t> AuditReader::HeadSeq() {
  return schema::GetMetaInt(impl_->db, schema::kMetaHeadSeq, 0);
}

}  // namespace stockade::audit
