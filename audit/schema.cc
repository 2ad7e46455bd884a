#include "audit/schema.h"

#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

namespace stockade::audit::schema {

namespace {

// Version 1. `events` holds the canonical bytes (the chained truth) plus columns derived from
// them for indexed queries; verification checks each derived column against the bytes.
// `sessions` is derived from session events for identity/workspace filters.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE events(
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  session_id TEXT NOT NULL,
  image TEXT,
  data BLOB NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_session_time ON events(session_id, time);
CREATE INDEX events_kind_time ON events(kind, time);
CREATE INDEX events_image ON events(image) WHERE image IS NOT NULL;
CREATE TABLE sessions(
  session_id TEXT PRIMARY KEY,
  identity TEXT NOT NULL,
  workspace TEXT NOT NULL,
  invoking_user TEXT NOT NULL,
  start_time INTEGER,
  start_seq INTEGER,
  end_time INTEGER,
  end_seq INTEGER
);
CREATE INDEX sessions_workspace ON sessions(workspace);
CREATE INDEX sessions_identity ON sessions(identity);
CREATE TABLE seals(
  segment INTEGER PRIMARY KEY,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  event_count INTEGER NOT NULL,
  first_time INTEGER NOT NULL,
  last_time INTEGER NOT NULL,
  prev_hash TEXT NOT NULL,
  last_hash TEXT NOT NULL,
  sealed_at INTEGER NOT NULL,
  archive_file TEXT NOT NULL,
  store_id TEXT NOT NULL,
  prev_seal_hash TEXT NOT NULL,
  seal_hash TEXT NOT NULL,
  removed_at INTEGER
);
)sql";

// Version 2: one time-leading index holding every filtered column replaces the four indexes
// of version 1. An index led by session_id takes its inserts at one place per active session,
// so a batch dirtied (and the WAL rewrote) a page per session; with many sessions interleaved
// that, and maintaining four indexes, made ingest several times slower than the table alone.
// events_filter grows at its end like the table, so a batch appends to a few pages. A query
// with a time range scans that range in the index and tests session, kind and image in the
// index entries, reading only the matching rows; a session, workspace or image query without
// one scans the narrow index rather than the table (docs/audit-events.md, "Indexes").
constexpr char kSchemaV2[] = R"sql(
DROP INDEX events_time;
DROP INDEX events_session_time;
DROP INDEX events_kind_time;
DROP INDEX events_image;
CREATE INDEX events_filter ON events(time, session_id, kind, image);
)sql";

struct Migration {
  int to_version;
  const char* sql;
};

// Append a migration here for each new schema version; never edit a released one.
constexpr Migration kMigrations[] = {{1, kSchemaV1}, {2, kSchemaV2}};

void PutI64(std::string& out, std::int64_t value) {
  const auto v = static_cast<std::uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

void PutStr(std::string& out, const std::string& s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  out += s;
}

}  // namespace

Status Migrate(sqlite::Database& db) {
  auto tx = sqlite::Transaction::Begin(db);
  if (!tx.ok()) return tx.error().Wrap("migrating the audit store");
  auto version = db.UserVersion();
  if (!version.ok()) return version.error();
  if (*version > kStoreSchemaVersion) {
    return Error(ErrorCode::kStateTooNew,
                 "audit store " + db.path() + " has schema version " + std::to_string(*version) +
                     "; this build reads up to " + std::to_string(kStoreSchemaVersion));
  }
  if (*version == 0) {
    auto count = db.Prepare("SELECT count(*) FROM sqlite_schema");
    if (!count.ok()) return count.error();
    auto row = count->Step();
    if (!row.ok()) return row.error();
    if (count->Int(0) != 0) {
      return Error(ErrorCode::kStateCorrupt,
                   db.path() + " holds tables but no schema version: not an audit store");
    }
  }
  for (const auto& m : kMigrations) {
    if (m.to_version <= *version) continue;
    Status s = db.Exec(m.sql);
    if (!s.ok()) {
      return s.error().Wrap("migrating the audit store to schema version " +
                            std::to_string(m.to_version));
    }
    STOCKADE_RETURN_IF_ERROR(db.SetUserVersion(m.to_version));
  }
  return tx->Commit();
}

Status CheckReadable(sqlite::Database& db) {
  auto version = db.UserVersion();
  if (!version.ok()) return version.error();
  if (*version == 0) {
    return Error(ErrorCode::kStateCorrupt, db.path() + " is not an audit store (no schema)");
  }
  if (*version > kStoreSchemaVersion) {
    return Error(ErrorCode::kStateTooNew,
                 "audit store " + db.path() + " has schema version " + std::to_string(*version) +
                     "; this build reads up to " + std::to_string(kStoreSchemaVersion));
  }
  return OkStatus();
}

Expected<std::optional<std::string>> GetMeta(sqlite::Database& db, const std::string& key) {
  auto stmt = db.Prepare("SELECT value FROM meta WHERE key = ?1");
  if (!stmt.ok()) return stmt.error();
  STOCKADE_RETURN_IF_ERROR(stmt->Bind(1, key));
  auto row = stmt->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(stmt->Text(0));
}

Status SetMeta(sqlite::Database& db, const std::string& key, const std::string& value) {
  auto stmt = db.Prepare(
      "INSERT INTO meta(key, value) VALUES(?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!stmt.ok()) return stmt.error();
  STOCKADE_RETURN_IF_ERROR(stmt->BindAll(key, value));
  return stmt->Run();
}

Expected<std::int64_t> GetMetaInt(sqlite::Database& db, const std::string& key,
                                  std::int64_t fallback) {
  auto value = GetMeta(db, key);
  if (!value.ok()) return value.error();
  if (!value->has_value()) return fallback;
  const std::string& text = **value;
  std::int64_t out = 0;
  std::size_t used = 0;
  try {
    out = std::stoll(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != text.size()) {
    return Error(ErrorCode::kStateCorrupt,
                 "audit store " + db.path() + ": meta " + key + " is not an integer: " + text);
  }
  return out;
}

Expected<crypto::Sha256Digest> GetMetaDigest(sqlite::Database& db, const std::string& key,
                                             const crypto::Sha256Digest& fallback) {
  auto value = GetMeta(db, key);
  if (!value.ok()) return value.error();
  if (!value->has_value()) return fallback;
  auto digest = DigestFromHex(**value);
  if (!digest) {
    return Error(ErrorCode::kStateCorrupt,
                 "audit store " + db.path() + ": meta " + key + " is not a SHA-256 hex digest");
  }
  return *digest;
}

std::optional<crypto::Sha256Digest> DigestFromHex(const std::string& hex) {
  if (hex.size() != 2 * crypto::kSha256Size) return std::nullopt;
  crypto::Sha256Digest out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    int v = 0;
    for (int j = 0; j < 2; ++j) {
      const char c = hex[2 * i + static_cast<std::size_t>(j)];
      int d = 0;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else {
        return std::nullopt;
      }
      v = v * 16 + d;
    }
    out[i] = static_cast<std::uint8_t>(v);
  }
  return out;
}

std::optional<crypto::Sha256Digest> DigestFromBlob(const sqlite::Blob& blob) {
  if (blob.size() != crypto::kSha256Size) return std::nullopt;
  crypto::Sha256Digest out{};
  std::copy(blob.begin(), blob.end(), out.begin());
  return out;
}

sqlite::Blob BlobFromDigest(const crypto::Sha256Digest& digest) {
  return sqlite::Blob(digest.begin(), digest.end());
}

std::string EncodeSeal(const Seal& seal) {
  std::string out;
  out.push_back(1);  // seal encoding version
  PutStr(out, seal.store_id);
  PutI64(out, seal.info.segment);
  PutI64(out, seal.info.first_seq);
  PutI64(out, seal.info.last_seq);
  PutI64(out, seal.info.event_count);
  PutI64(out, seal.info.first_time);
  PutI64(out, seal.info.last_time);
  PutStr(out, seal.info.prev_hash);
  PutStr(out, seal.info.last_hash);
  PutI64(out, seal.info.sealed_at);
  PutStr(out, seal.info.archive_file);
  PutStr(out, seal.prev_seal_hash);
  return out;
}

std::string SealHashHex(const Seal& seal) { return crypto::Sha256Hex(EncodeSeal(seal)); }

Status InsertSeal(sqlite::Database& db, const Seal& seal) {
  auto stmt = db.Prepare(
      "INSERT INTO seals(segment, first_seq, last_seq, event_count, first_time, last_time, "
      "prev_hash, last_hash, sealed_at, archive_file, store_id, prev_seal_hash, seal_hash, "
      "removed_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  if (!stmt.ok()) return stmt.error();
  const SealInfo& i = seal.info;
  STOCKADE_RETURN_IF_ERROR(stmt->BindAll(i.segment, i.first_seq, i.last_seq, i.event_count,
                                         i.first_time, i.last_time, i.prev_hash, i.last_hash,
                                         i.sealed_at, i.archive_file, seal.store_id,
                                         seal.prev_seal_hash, i.seal_hash, seal.removed_at));
  return stmt->Run();
}

Expected<std::vector<Seal>> ReadSeals(sqlite::Database& db) {
  auto stmt = db.Prepare(
      "SELECT segment, first_seq, last_seq, event_count, first_time, last_time, prev_hash, "
      "last_hash, sealed_at, archive_file, store_id, prev_seal_hash, seal_hash, removed_at "
      "FROM seals ORDER BY segment");
  if (!stmt.ok()) return stmt.error();
  std::vector<Seal> seals;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    Seal s;
    s.info.segment = stmt->Int(0);
    s.info.first_seq = stmt->Int(1);
    s.info.last_seq = stmt->Int(2);
    s.info.event_count = stmt->Int(3);
    s.info.first_time = stmt->Int(4);
    s.info.last_time = stmt->Int(5);
    s.info.prev_hash = stmt->Text(6);
    s.info.last_hash = stmt->Text(7);
    s.info.sealed_at = stmt->Int(8);
    s.info.archive_file = stmt->Text(9);
    s.store_id = stmt->Text(10);
    s.prev_seal_hash = stmt->Text(11);
    s.info.seal_hash = stmt->Text(12);
    if (!stmt->IsNull(13)) s.removed_at = stmt->Int(13);
    seals.push_back(std::move(s));
  }
  return seals;
}

std::string ArchiveFileName(std::int64_t segment) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "segment-%06lld.db", static_cast<long long>(segment));
  return buf;
}

Expected<sqlite::Database> OpenReadOnly(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(std::u8string(path.begin(), path.end())),
                               ec)) {
    return Error(ErrorCode::kNotFound, "audit store " + path + " does not exist");
  }
  sqlite::OpenOptions ro;
  ro.create = false;
  ro.read_only = true;
  ro.foreign_keys = false;
  auto db = sqlite::Database::Open(path, ro);
  if (!db.ok()) {
    return db.error().Wrap(
        "reading the audit store (readable by the service's account only: "
        "run as root or an administrator)");
  }
  STOCKADE_RETURN_IF_ERROR(CheckReadable(*db));
  return db;
}

}  // namespace stockade::audit::schema
