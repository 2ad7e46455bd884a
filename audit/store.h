// The audit store: SQLite in WAL mode, one writer thread committing batches, a SHA-256 hash chain
// over the canonical encoding of every event (audit/canonical.h), and rotation into sealed
// archives whose chain continues from one segment to the next. Owned by the service; see
// docs/audit-events.md for the schema, the chain, the durability choice and the permissions.
#ifndef STOCKADE_AUDIT_STORE_H_
#define STOCKADE_AUDIT_STORE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "audit/event.h"
#include "audit/recorder.h"
#include "core/error.h"

namespace stockade::audit {

// The schema version stamped in PRAGMA user_version of the store and of every archive.
inline constexpr int kStoreSchemaVersion = 2;

// File names inside the audit folder (<state_dir>/audit by default).
inline constexpr char kStoreFileName[] = "audit.db";
inline constexpr char kArchiveDirName[] = "archive";

// <state_dir>/audit/audit.db
std::string DefaultStorePath(const std::string& state_dir);
// The archive folder of a store: <folder of store_path>/archive.
std::string ArchiveDirFor(const std::string& store_path);

struct StoreOptions {
  std::string path;  // the active store file (UTF-8); its folder is created if missing
  // Host name recorded in events that leave Event::host empty; "" = ask the OS.
  std::string host;
  // Batching (group commit): the writer takes everything queued, up to max_batch_events, into
  // one transaction. It commits at once when a Record() caller (or a Rotate/ApplyRetention) is
  // waiting; when only RecordAsync events are queued it waits until the batch is full or its
  // oldest event has waited max_batch_latency, whichever comes first.
  std::size_t max_batch_events = 4096;
  std::chrono::milliseconds max_batch_latency{10};
  // At most this many events wait in memory; beyond it Record/RecordAsync block until the
  // writer has taken a batch (backpressure: a producer faster than the disk is slowed down,
  // never dropped). Bounds what a crash of the process can lose (see "Durability" below).
  std::size_t max_queued_events = 65536;
  // Durability: true = synchronous=FULL (the WAL is fsynced at every batch commit: an event
  // whose Record() returned survives power loss); false = NORMAL (survives a crash of the
  // service, may lose the last batches on power loss). The service uses true.
  bool sync_every_batch = true;
  // SQLite tuning for an append-mostly log. page_size applies when the store file is created
  // (16 KiB pages: fewer pages per batch to write into the WAL, fewer B-tree levels); the page
  // cache keeps the index pages that the next batch appends to in memory.
  int page_size = 16384;
  int cache_size_kib = 65536;
  // Automatic rotation, checked after each batch: seal the active segment when it holds this
  // many events (0 = no limit) or its first event is older than this (0 = no limit).
  std::int64_t rotate_after_events = 0;
  std::chrono::seconds rotate_after_age{0};
  // Retention: sealed archives whose last event is older than this many days are deleted at
  // rotation (their seal stays in the store, so the chain stays verifiable). 0 = keep all.
  int retention_days = 365;
  // Apply the restrictive permissions of docs/audit-events.md to the folder and files (Linux:
  // owner-only write, no access for others; Windows: SYSTEM and Administrators only) and read
  // them back. Tests running unprivileged may turn it off.
  bool secure_permissions = true;
};

// What a rotation produced.
struct SealInfo {
  std::int64_t segment = 0;
  std::int64_t first_seq = 0;
  std::int64_t last_seq = 0;
  std::int64_t event_count = 0;
  TimeNs first_time = 0;
  TimeNs last_time = 0;
  std::string prev_hash;  // hex: the hash the segment's first event chains from
  std::string last_hash;  // hex: the hash of the segment's last event
  TimeNs sealed_at = 0;
  std::string archive_file;  // file name inside the archive folder
  std::string seal_hash;     // hex SHA-256 of the seal's canonical encoding
};

struct StoreStats {
  std::int64_t recorded_events = 0;  // committed by this Store object
  std::int64_t failed_events = 0;    // lost in failed batches
  std::int64_t batches = 0;
  std::int64_t head_seq = 0;  // the last committed sequence number
};

class Store final : public Recorder {
 public:
  // Opens or creates the store at options.path, migrates its schema to kStoreSchemaVersion,
  // finishes a rotation a crash interrupted, applies the permissions, and starts the writer
  // thread. Errors: kStateTooNew (schema newer than this build), kStateCorrupt (not a store, or
  // its chain head is inconsistent), kPermissionDenied / kIo (folder or permissions),
  // kDatabase / kDatabaseBusy.
  static Expected<std::unique_ptr<Store>> Open(const StoreOptions& options);

  ~Store() override;  // Close(), logging a failure
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Durability contract (with sync_every_batch, the service's setting):
  // - Record() returns the event's seq once the batch holding it is committed and the WAL is
  //   fsynced: the event survives a crash of the process and a power loss. Concurrent Record()
  //   callers share one commit (group commit), so each pays one fsync per batch, not per event.
  // - RecordAsync() returns once the event is validated, encoded and queued. It is committed in
  //   the next batch (within max_batch_latency, or sooner when the batch fills); it is durable
  //   once Flush() returns OK, or once a Record() call made after it returned (batches commit
  //   in queue order). A crash before that loses at most the queued events not yet committed
  //   (at most max_queued_events plus one batch), never part of a batch: a batch is one
  //   transaction, and the chain head advances with it, so what survives always verifies.
  // - A failed batch (disk full, I/O error) records none of its events: its Record() callers
  //   get the error; RecordAsync() and Flush() return it afterwards.
  // Errors (all three): kInvalidArgument for an event ValidateEvent refuses (nothing queued);
  // kInternal after Close(); the batch's database error.
  Expected<std::int64_t> Record(Event event) override;
  Status RecordAsync(Event event) override;
  Status Flush() override;

  // Commits what is queued, stops the writer thread and closes the database. Later calls to
  // the Recorder methods fail with kInternal. Idempotent.
  Status Close();

  // Seals the active segment into <archive>/segment-NNNNNN.db (read-only file holding the
  // segment's events and its seal), removes those events from the active store, and starts the
  // next segment chained from the sealed last hash; then applies retention. Runs on the writer
  // thread, serialised with recording. Errors: kNotFound when the active segment is empty; the
  // database and file errors of the steps (a failed rotation leaves the events in the store).
  Expected<SealInfo> Rotate();

  // Deletes archives whose last event is older than retention_days before `now` and marks
  // their seals removed. Returns how many were removed.
  Expected<int> ApplyRetention(TimeNs now);

  StoreStats Stats() const;
  const std::string& path() const;

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_STORE_H_
