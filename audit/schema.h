// The SQLite schema shared by the active store and its archives, its migrations, the meta
// key/value helpers and the seal record. Internal to audit/ (store, query, verify).
#ifndef STOCKADE_AUDIT_SCHEMA_H_
#define STOCKADE_AUDIT_SCHEMA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "audit/store.h"
#include "core/crypto/sha256.h"
#include "core/error.h"
#include "core/sqlite/database.h"

namespace stockade::audit::schema {

// Brings `db` to kStoreSchemaVersion inside one transaction (a fresh file gets the whole
// schema; older versions run each migration in order). Errors: kStateTooNew for a newer
// version; kStateCorrupt when a non-empty database without user_version is not a store.
Status Migrate(sqlite::Database& db);

// Checks that the schema version is one this build reads (for read-only opens that must not
// migrate). Errors: kStateTooNew, kStateCorrupt (0 = not a store).
Status CheckReadable(sqlite::Database& db);

// meta(key, value) access. Get returns nullopt when absent.
Expected<std::optional<std::string>> GetMeta(sqlite::Database& db, const std::string& key);
Status SetMeta(sqlite::Database& db, const std::string& key, const std::string& value);
// Integer and digest helpers over GetMeta; a present but malformed value is kStateCorrupt.
Expected<std::int64_t> GetMetaInt(sqlite::Database& db, const std::string& key,
                                  std::int64_t fallback);
Expected<crypto::Sha256Digest> GetMetaDigest(sqlite::Database& db, const std::string& key,
                                             const crypto::Sha256Digest& fallback);

// Meta keys.
inline constexpr char kMetaStoreId[] = "store_id";
inline constexpr char kMetaCreatedAt[] = "created_at";
inline constexpr char kMetaSegment[] = "segment";  // current segment number
inline constexpr char kMetaSegmentFirstSeq[] = "segment_first_seq";
inline constexpr char kMetaSegmentPrevHash[] = "segment_prev_hash";  // hex
inline constexpr char kMetaHeadSeq[] = "head_seq";                   // last committed seq
inline constexpr char kMetaHeadHash[] = "head_hash";                 // hex
inline constexpr char kMetaArchiveOf[] = "archive_of";               // archives only: segment

// Digest <-> hex and blob.
std::optional<crypto::Sha256Digest> DigestFromHex(const std::string& hex);
std::optional<crypto::Sha256Digest> DigestFromBlob(const sqlite::Blob& blob);
sqlite::Blob BlobFromDigest(const crypto::Sha256Digest& digest);

// One row of the seals table.
struct Seal {
  SealInfo info;
  std::string store_id;
  std::string prev_seal_hash;        // hex; 64 zeros for the first segment
  std::optional<TimeNs> removed_at;  // set when retention deleted the archive
};

// The canonical bytes of a seal (docs/audit-events.md, "Seals") and their SHA-256 in hex.
std::string EncodeSeal(const Seal& seal);
std::string SealHashHex(const Seal& seal);

Status InsertSeal(sqlite::Database& db, const Seal& seal);
// All seals in segment order.
Expected<std::vector<Seal>> ReadSeals(sqlite::Database& db);

// "segment-000001.db"
std::string ArchiveFileName(std::int64_t segment);

// Opens a store or archive read-only and checks its schema version (no migration). Errors:
// kNotFound when missing; the open error wrapped with a hint that the store is readable by the
// service's account only; kStateTooNew / kStateCorrupt.
Expected<sqlite::Database> OpenReadOnly(const std::string& path);

}  // namespace stockade::audit::schema

#endif  // STOCKADE_AUDIT_SCHEMA_H_
