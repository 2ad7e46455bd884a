#include "audit/store.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "audit/canonical.h"
#include "audit/platform.h"
#include "audit/schema.h"
#include "core/crypto/random.h"
#include "core/log/logging.h"
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

// SQL string literal of `text` ('' doubles a quote): VACUUM INTO takes no bound parameter in
// older SQLite versions.
std::string SqlQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  out += "'";
  return out;
}

// A Record() caller waiting for its batch.
struct Waiter {
  bool done = false;
  std::optional<Error> error;
  std::int64_t seq = 0;
};

// What the sessions table takes from a session event (two per session: kept apart so that
// the far more numerous other events carry only a null pointer).
struct SessionColumns {
  SessionPhase phase = SessionPhase::kStart;
  std::string identity;
  std::string workspace;
  std::string invoking_user;
  TimeNs time = 0;  // start_time or end_time, by phase
};

// A queued event, already validated and encoded by its producer: `canonical` holds its bytes
// with seq 0, which the writer patches (PatchCanonicalSeq) when it assigns the seq, and the
// indexed columns are read from those bytes (layout). Encoding on the producers' threads, and
// dropping the Event there, leaves the writer only the work that must be done in order: seq,
// hash, insert.
struct Pending {
  std::string canonical;
  CanonicalLayout layout;
  TimeNs time = 0;
  EventKind kind = EventKind::kProcess;
  std::unique_ptr<SessionColumns> session;  // session events only
  Waiter* waiter = nullptr;                 // null for RecordAsync
  std::function<void()> task;               // set instead of an event: run on the writer thread
};

}  // namespace

std::string DefaultStorePath(const std::string& state_dir) {
  return PathU8(U8Path(state_dir) / "audit" / kStoreFileName);
}

std::string ArchiveDirFor(const std::string& store_path) {
  return PathU8(U8Path(store_path).parent_path() / kArchiveDirName);
}

struct Store::Impl {
  StoreOptions options;
  std::string archive_dir;
  std::optional<sqlite::Database> db;  // used by the writer thread only once it runs
  std::optional<sqlite::Statement> insert_event;
  std::optional<sqlite::Statement> session_start;
  std::optional<sqlite::Statement> session_end;
  std::optional<sqlite::Statement> set_meta;

  // Chain state, owned by the writer thread.
  std::string store_id;
  std::int64_t segment = 1;
  std::int64_t segment_first_seq = 1;
  crypto::Sha256Digest segment_prev_hash{};
  std::int64_t head_seq = 0;
  crypto::Sha256Digest head_hash{};
  TimeNs segment_first_time = 0;  // 0 = unknown / empty segment
  ChainHasher hasher;             // the writer thread's

  mutable std::mutex mu;
  std::condition_variable work_cv;   // the writer waits here for work
  std::condition_variable done_cv;   // Record/Flush/task callers wait here for their batch
  std::condition_variable space_cv;  // producers wait here while the queue is full
  std::deque<Pending> queue;
  // Queued items that someone waits for (Record() callers and tasks): the writer commits at
  // once when there is one, instead of waiting for the batch to fill. A count, so that the
  // writer never scans the queue to find out.
  std::size_t queued_urgent = 0;
  std::size_t queued_tasks = 0;
  // When the oldest queued event was queued: an async-only batch is committed when it is
  // max_batch_latency old.
  std::chrono::steady_clock::time_point oldest_queued_at;
  std::uint64_t enqueued = 0;          // items ever queued
  std::uint64_t processed = 0;         // items ever taken out and finished (committed or failed)
  std::optional<Error> pending_error;  // first async failure since the last Flush
  bool stopping = false;
  bool closed = false;
  StoreStats stats;
  std::thread writer;

  Status Initialise();
  Status PrepareStatements();
  Status FinishInterruptedRotation();
  void WriterLoop();
  Status CommitBatch(std::deque<Pending>& batch);
  Expected<SealInfo> RotateNow();
  Expected<int> RetentionNow(TimeNs now);
  Status Enqueue(Pending pending);
  // Validates and encodes `event` into `pending` (on the caller's thread).
  Status EncodeInto(Event event, Pending& pending);
  Status PrepareEvent(Event& event);
  std::string host;
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  Status s = Close();
  if (!s.ok()) {
    spdlog::error("closing the audit store {}: {}", impl_->options.path, s.error().ToString());
  }
}

const std::string& Store::path() const { return impl_->options.path; }

Expected<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->archive_dir = ArchiveDirFor(options.path);
  impl->host = options.host.empty() ? platform::LocalHostName() : options.host;
  STOCKADE_RETURN_IF_ERROR(impl->Initialise());
  auto store = std::unique_ptr<Store>(new Store(std::move(impl)));
  Impl* raw = store->impl_.get();
  raw->writer = std::thread([raw] { raw->WriterLoop(); });
  return store;
}

Status Store::Impl::Initialise() {
  std::error_code ec;
  const fs::path file = U8Path(options.path);
  const fs::path dir = file.parent_path();
  for (const fs::path& d : {dir, U8Path(archive_dir)}) {
    fs::create_directories(d, ec);
    if (ec) {
      return Error(ErrorCode::kIo, "creating the audit folder " + PathU8(d) + ": " + ec.message());
    }
    // The folder first: once it is closed to others, nothing created inside is reachable by
    // them, whatever its own mode is in the moment before it is restricted too.
    if (options.secure_permissions) {
      STOCKADE_RETURN_IF_ERROR(platform::ProtectPath(PathU8(d), platform::Protect::kDirectory));
    }
  }
  sqlite::OpenOptions open;
  open.wal = true;
  open.synchronous =
      options.sync_every_batch ? sqlite::Synchronous::kFull : sqlite::Synchronous::kNormal;
  open.foreign_keys = false;
  open.page_size = options.page_size;
  open.cache_size_kib = options.cache_size_kib;
  auto database = sqlite::Database::Open(options.path, open);
  if (!database.ok()) return database.error().Wrap("opening the audit store");
  db.emplace(std::move(*database));
  if (options.secure_permissions) {
    STOCKADE_RETURN_IF_ERROR(platform::ProtectPath(options.path, platform::Protect::kWritableFile));
  }
  STOCKADE_RETURN_IF_ERROR(schema::Migrate(*db));
  // The WAL and shared-memory files exist from here on (Migrate wrote): SQLite gives them the
  // database file's mode, and they are checked like it.
  if (options.secure_permissions) {
    for (const char* suffix : {"-wal", "-shm"}) {
      const std::string p = options.path + suffix;
      if (fs::exists(U8Path(p), ec)) {
        STOCKADE_RETURN_IF_ERROR(platform::ProtectPath(p, platform::Protect::kWritableFile));
      }
    }
  }

  auto id = schema::GetMeta(*db, schema::kMetaStoreId);
  if (!id.ok()) return id.error();
  if (!id->has_value()) {
    // A new store: its identity and the start of its chain.
    auto random = crypto::RandomHex(16);
    if (!random.ok()) return random.error();
    auto tx = sqlite::Transaction::Begin(*db);
    if (!tx.ok()) return tx.error();
    STOCKADE_RETURN_IF_ERROR(schema::SetMeta(*db, schema::kMetaStoreId, *random));
    STOCKADE_RETURN_IF_ERROR(schema::SetMeta(*db, schema::kMetaCreatedAt, std::to_string(NowNs())));
    STOCKADE_RETURN_IF_ERROR(schema::SetMeta(*db, schema::kMetaSegment, "1"));
    STOCKADE_RETURN_IF_ERROR(schema::SetMeta(*db, schema::kMetaSegmentFirstSeq, "1"));
    STOCKADE_RETURN_IF_ERROR(
        schema::SetMeta(*db, schema::kMetaSegmentPrevHash, crypto::HexEncode(kGenesisHash)));
    STOCKADE_RETURN_IF_ERROR(schema::SetMeta(*db, schema::kMetaHeadSeq, "0"));
    STOCKADE_RETURN_IF_ERROR(
        schema::SetMeta(*db, schema::kMetaHeadHash, crypto::HexEncode(kGenesisHash)));
    STOCKADE_RETURN_IF_ERROR(tx->Commit());
    store_id = *random;
  } else {
    store_id = **id;
  }
  auto seg = schema::GetMetaInt(*db, schema::kMetaSegment, 1);
  auto first = schema::GetMetaInt(*db, schema::kMetaSegmentFirstSeq, 1);
  auto prev = schema::GetMetaDigest(*db, schema::kMetaSegmentPrevHash, kGenesisHash);
  auto hseq = schema::GetMetaInt(*db, schema::kMetaHeadSeq, 0);
  auto hhash = schema::GetMetaDigest(*db, schema::kMetaHeadHash, kGenesisHash);
  for (const Status& s : {seg.ok() ? OkStatus() : Status(seg.error()),
                          first.ok() ? OkStatus() : Status(first.error()),
                          prev.ok() ? OkStatus() : Status(prev.error()),
                          hseq.ok() ? OkStatus() : Status(hseq.error()),
                          hhash.ok() ? OkStatus() : Status(hhash.error())}) {
    STOCKADE_RETURN_IF_ERROR(s);
  }
  segment = *seg;
  segment_first_seq = *first;
  segment_prev_hash = *prev;
  head_seq = *hseq;
  head_hash = *hhash;

  // The head recorded in meta must be the last row: continuing a chain from anything else
  // would append valid-looking events after a gap or a forged tail.
  auto last = db->Prepare("SELECT seq, hash, time FROM events ORDER BY seq DESC LIMIT 1");
  if (!last.ok()) return last.error();
  auto row = last->Step();
  if (!row.ok()) return row.error();
  if (*row) {
    auto hash = schema::DigestFromBlob(last->BlobValue(1));
    if (last->Int(0) != head_seq || !hash || *hash != head_hash) {
      return Error(ErrorCode::kStateCorrupt,
                   "audit store " + options.path + ": the last event (#" +
                       std::to_string(last->Int(0)) + ") is not the recorded chain head (#" +
                       std::to_string(head_seq) + "); run `stockade audit verify`");
    }
  } else if (head_seq != segment_first_seq - 1) {
    return Error(ErrorCode::kStateCorrupt,
                 "audit store " + options.path + ": no events, but the chain head is #" +
                     std::to_string(head_seq) + "; run `stockade audit verify`");
  }
  STOCKADE_RETURN_IF_ERROR(FinishInterruptedRotation());
  auto first_time = db->Prepare("SELECT time FROM events ORDER BY seq LIMIT 1");
  if (!first_time.ok()) return first_time.error();
  auto ft = first_time->Step();
  if (!ft.ok()) return ft.error();
  segment_first_time = *ft ? first_time->Int(0) : 0;
  stats.head_seq = head_seq;
  return PrepareStatements();
}

Status Store::Impl::PrepareStatements() {
  auto ins = db->Prepare(
      "INSERT INTO events(seq, time, kind, session_id, image, data, prev_hash, hash) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!ins.ok()) return ins.error();
  insert_event.emplace(std::move(*ins));
  // First start wins; an end creates the row when the start is not in this store (it was
  // archived and the session row carried over, or the start was never recorded).
  auto start = db->Prepare(
      "INSERT INTO sessions(session_id, identity, workspace, invoking_user, start_time, "
      "start_seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(session_id) DO NOTHING");
  if (!start.ok()) return start.error();
  session_start.emplace(std::move(*start));
  auto end = db->Prepare(
      "INSERT INTO sessions(session_id, identity, workspace, invoking_user, end_time, end_seq) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(session_id) DO UPDATE SET "
      "end_time = excluded.end_time, end_seq = excluded.end_seq");
  if (!end.ok()) return end.error();
  session_end.emplace(std::move(*end));
  auto meta = db->Prepare(
      "INSERT INTO meta(key, value) VALUES(?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!meta.ok()) return meta.error();
  set_meta.emplace(std::move(*meta));
  return OkStatus();
}

// A rotation writes the archive (complete, renamed into place) before it removes the events
// from the store. A crash between the two leaves an archive for the current segment: if its
// seal matches the store's events, finish the removal; an unfinished temporary file is
// discarded.
Status Store::Impl::FinishInterruptedRotation() {
  std::error_code ec;
  const fs::path archive = U8Path(archive_dir) / schema::ArchiveFileName(segment);
  fs::path tmp = archive;
  tmp += ".tmp";
  fs::remove(tmp, ec);
  if (!fs::exists(archive, ec)) return OkStatus();
  sqlite::OpenOptions ro;
  ro.create = false;
  ro.read_only = true;
  auto adb = sqlite::Database::Open(PathU8(archive), ro);
  if (!adb.ok()) return adb.error().Wrap("checking the archive of an interrupted rotation");
  auto seals = schema::ReadSeals(*adb);
  if (!seals.ok()) return seals.error();
  const schema::Seal* mine = nullptr;
  for (const auto& s : *seals) {
    if (s.info.segment == segment) mine = &s;
  }
  if (mine == nullptr || mine->info.last_seq > head_seq ||
      mine->info.last_hash != crypto::HexEncode(head_hash) || mine->store_id != store_id) {
    return Error(ErrorCode::kStateCorrupt,
                 "archive " + PathU8(archive) + " is for the current segment " +
                     std::to_string(segment) +
                     " but does not seal the store's events; move it away and run "
                     "`stockade audit verify`");
  }
  schema::Seal seal = *mine;
  auto tx = sqlite::Transaction::Begin(*db);
  if (!tx.ok()) return tx.error();
  STOCKADE_RETURN_IF_ERROR(schema::InsertSeal(*db, seal));
  STOCKADE_RETURN_IF_ERROR(db->Exec("DELETE FROM events"));
  STOCKADE_RETURN_IF_ERROR(db->Exec("DELETE FROM sessions WHERE end_seq IS NOT NULL"));
  STOCKADE_RETURN_IF_ERROR(schema::SetMeta(*db, schema::kMetaSegment, std::to_string(segment + 1)));
  STOCKADE_RETURN_IF_ERROR(
      schema::SetMeta(*db, schema::kMetaSegmentFirstSeq, std::to_string(head_seq + 1)));
  STOCKADE_RETURN_IF_ERROR(
      schema::SetMeta(*db, schema::kMetaSegmentPrevHash, crypto::HexEncode(head_hash)));
  STOCKADE_RETURN_IF_ERROR(tx->Commit());
  segment += 1;
  segment_first_seq = head_seq + 1;
  segment_prev_hash = head_hash;
  spdlog::warn("audit store: finished the rotation of segment {} that a crash interrupted",
               segment - 1);
  return OkStatus();
}

Status Store::Impl::PrepareEvent(Event& event) {
  event.version = kEventModelVersion;
  event.seq = 0;
  if (event.time == 0) event.time = NowNs();
  if (event.host.empty()) event.host = host;
  return ValidateEvent(event);
}

Status Store::Impl::EncodeInto(Event event, Pending& pending) {
  STOCKADE_RETURN_IF_ERROR(PrepareEvent(event));
  pending.canonical = EncodeCanonical(event, &pending.layout);
  pending.time = event.time;
  pending.kind = event.kind();
  if (auto* s = std::get_if<SessionEvent>(&event.body)) {
    pending.session = std::make_unique<SessionColumns>(SessionColumns{
        s->phase, std::move(s->identity), std::move(s->workspace), std::move(s->invoking_user),
        s->phase == SessionPhase::kStart ? s->start_time : s->end_time});
  }
  return OkStatus();
}

Status Store::Impl::Enqueue(Pending pending) {
  const bool urgent = pending.waiter != nullptr || static_cast<bool>(pending.task);
  std::unique_lock lock(mu);
  auto closed_error = [&] {
    return Error(ErrorCode::kInternal, "audit store " + options.path + " is closed");
  };
  if (closed || stopping) return closed_error();
  if (!pending.task && queue.size() >= options.max_queued_events) {
    // Backpressure, never loss: a producer faster than the disk waits for room.
    space_cv.wait(lock,
                  [&] { return stopping || closed || queue.size() < options.max_queued_events; });
    if (closed || stopping) return closed_error();
  }
  const bool was_empty = queue.empty();
  if (was_empty) oldest_queued_at = std::chrono::steady_clock::now();
  queue.push_back(std::move(pending));
  ++enqueued;
  if (urgent) ++queued_urgent;
  if (queue.back().task) ++queued_tasks;
  // Wake the writer only when it has a reason to act: it sleeps on an empty queue, or waits for
  // a batch to fill (then an urgent item or a full batch ends the wait; otherwise its deadline
  // does). Waking it per event would cost a context switch per event.
  if (was_empty || urgent || queue.size() == options.max_batch_events) work_cv.notify_one();
  return OkStatus();
}

Expected<std::int64_t> Store::Record(Event event) {
  Waiter waiter;
  Pending p;
  STOCKADE_RETURN_IF_ERROR(impl_->EncodeInto(std::move(event), p));
  p.waiter = &waiter;
  STOCKADE_RETURN_IF_ERROR(impl_->Enqueue(std::move(p)));
  std::unique_lock lock(impl_->mu);
  impl_->done_cv.wait(lock, [&] { return waiter.done; });
  if (waiter.error) return *waiter.error;
  return waiter.seq;
}

Status Store::RecordAsync(Event event) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->pending_error) return *impl_->pending_error;
  }
  Pending p;
  STOCKADE_RETURN_IF_ERROR(impl_->EncodeInto(std::move(event), p));
  return impl_->Enqueue(std::move(p));
}

Status Store::Flush() {
  std::unique_lock lock(impl_->mu);
  const std::uint64_t target = impl_->enqueued;
  impl_->done_cv.wait(lock, [&] { return impl_->processed >= target; });
  if (impl_->pending_error) {
    Error e = *impl_->pending_error;
    impl_->pending_error.reset();
    return e;
  }
  return OkStatus();
}

Status Store::Close() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->closed) return OkStatus();
    impl_->stopping = true;
    impl_->work_cv.notify_all();
    impl_->space_cv.notify_all();
  }
  if (impl_->writer.joinable()) impl_->writer.join();
  std::optional<Error> err;
  {
    std::lock_guard lock(impl_->mu);
    impl_->closed = true;
    err = impl_->pending_error;
    impl_->pending_error.reset();
  }
  impl_->insert_event.reset();
  impl_->session_start.reset();
  impl_->session_end.reset();
  impl_->set_meta.reset();
  if (impl_->db) {
    // Fold the WAL into the database so that the file alone (copies, archives) is complete.
    Status s = impl_->db->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!s.ok()) spdlog::warn("audit store checkpoint: {}", s.error().ToString());
    impl_->db.reset();
  }
  if (err) return *err;
  return OkStatus();
}

void Store::Impl::WriterLoop() {
  std::deque<Pending> batch;
  while (true) {
    {
      std::unique_lock lock(mu);
      work_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty() && stopping) return;
      // Async-only trickle: give the batch until its oldest event is max_batch_latency old to
      // fill, so that a stream of capture events costs one commit per batch rather than one
      // per event. A Record() caller or a task is never made to wait for this.
      if (!stopping && queued_urgent == 0 && queue.size() < options.max_batch_events) {
        work_cv.wait_until(lock, oldest_queued_at + options.max_batch_latency, [&] {
          return stopping || queued_urgent > 0 || queue.size() >= options.max_batch_events;
        });
      }
      if (queued_tasks == 0 && queue.size() <= options.max_batch_events) {
        batch.swap(queue);  // the common case: everything queued, without moving each item
      } else {
        // Events up to the batch size, stopping before a task (it runs alone, after the
        // events queued ahead of it are committed).
        while (!queue.empty() && batch.size() < options.max_batch_events) {
          if (queue.front().task && !batch.empty()) break;
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
          if (batch.back().task) break;
        }
      }
      for (const Pending& p : batch) {
        if (p.waiter != nullptr || p.task) --queued_urgent;
        if (p.task) --queued_tasks;
      }
      // What is left was queued while earlier items waited: its latency counts from now.
      if (!queue.empty()) oldest_queued_at = std::chrono::steady_clock::now();
      space_cv.notify_all();
    }
    Status status;
    if (batch.size() == 1 && batch.front().task) {
      batch.front().task();
    } else {
      status = CommitBatch(batch);
    }
    {
      std::lock_guard lock(mu);
      for (Pending& p : batch) {
        if (p.waiter != nullptr) {
          p.waiter->done = true;
          if (!status.ok()) p.waiter->error = status.error();
        }
      }
      if (!status.ok()) {
        stats.failed_events += static_cast<std::int64_t>(batch.size());
        if (!pending_error) pending_error = status.error();
      }
      processed += batch.size();
      done_cv.notify_all();
    }
    batch.clear();
    // Automatic rotation, between batches (never inside one).
    if (status.ok() && head_seq >= segment_first_seq) {
      const bool by_count = options.rotate_after_events > 0 &&
                            head_seq - segment_first_seq + 1 >= options.rotate_after_events;
      const bool by_age =
          options.rotate_after_age.count() > 0 && segment_first_time != 0 &&
          NowNs() - segment_first_time >=
              std::chrono::duration_cast<std::chrono::nanoseconds>(options.rotate_after_age)
                  .count();
      if (by_count || by_age) {
        auto sealed = RotateNow();
        if (!sealed.ok()) {
          spdlog::error("audit store: automatic rotation failed: {}", sealed.error().ToString());
        }
      }
    }
  }
}

Status Store::Impl::CommitBatch(std::deque<Pending>& batch) {
  // A statement left mid-step by a failed batch would refuse new bindings: start clean.
  for (auto* stmt : {&insert_event, &session_start, &session_end, &set_meta}) {
    (void)(*stmt)->Reset();
  }
  auto tx = sqlite::Transaction::Begin(*db);
  if (!tx.ok()) return tx.error().Wrap("recording audit events");
  std::int64_t seq = head_seq;
  crypto::Sha256Digest prev = head_hash;
  std::vector<std::int64_t> seqs;
  seqs.reserve(batch.size());
  TimeNs first_time = segment_first_time;
  for (Pending& p : batch) {
    const std::int64_t this_seq = ++seq;
    std::string& canonical = p.canonical;
    PatchCanonicalSeq(canonical, this_seq);
    auto hash = hasher.Hash(prev, canonical);
    if (!hash.ok()) return hash.error();
    const std::string_view bytes = canonical;
    sqlite::Statement& ins = *insert_event;
    STOCKADE_RETURN_IF_ERROR(ins.Bind(1, this_seq));
    STOCKADE_RETURN_IF_ERROR(ins.Bind(2, p.time));
    STOCKADE_RETURN_IF_ERROR(ins.Bind(3, static_cast<int>(p.kind)));
    STOCKADE_RETURN_IF_ERROR(ins.Bind(4, p.layout.session_id.In(bytes)));
    if (p.layout.has_image) {
      STOCKADE_RETURN_IF_ERROR(ins.Bind(5, p.layout.image.In(bytes)));
    } else {
      STOCKADE_RETURN_IF_ERROR(ins.BindNull(5));
    }
    STOCKADE_RETURN_IF_ERROR(ins.BindBlob(
        6, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(canonical.data()),
                                         canonical.size())));
    STOCKADE_RETURN_IF_ERROR(ins.BindBlob(7, prev));
    STOCKADE_RETURN_IF_ERROR(ins.BindBlob(8, *hash));
    Status run = ins.Run();
    if (!run.ok()) return run.error().Wrap("recording audit event #" + std::to_string(this_seq));
    if (const SessionColumns* s = p.session.get()) {
      sqlite::Statement& st = s->phase == SessionPhase::kStart ? *session_start : *session_end;
      STOCKADE_RETURN_IF_ERROR(st.BindAll(p.layout.session_id.In(bytes), s->identity, s->workspace,
                                          s->invoking_user, s->time, this_seq));
      STOCKADE_RETURN_IF_ERROR(st.Run());
    }
    if (first_time == 0) first_time = p.time;
    prev = *hash;
    seqs.push_back(this_seq);
  }
  sqlite::Statement& meta = *set_meta;
  STOCKADE_RETURN_IF_ERROR(meta.BindAll(std::string(schema::kMetaHeadSeq), std::to_string(seq)));
  STOCKADE_RETURN_IF_ERROR(meta.Run());
  STOCKADE_RETURN_IF_ERROR(
      meta.BindAll(std::string(schema::kMetaHeadHash), crypto::HexEncode(prev)));
  STOCKADE_RETURN_IF_ERROR(meta.Run());
  Status commit = tx->Commit();
  if (!commit.ok()) return commit.error().Wrap("committing audit events");
  // Only now does the chain advance: a failed batch leaves the head where it was, so the next
  // batch continues from the last committed event.
  head_seq = seq;
  head_hash = prev;
  segment_first_time = first_time;
  std::lock_guard lock(mu);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].waiter != nullptr) batch[i].waiter->seq = seqs[i];
  }
  stats.recorded_events += static_cast<std::int64_t>(batch.size());
  stats.batches += 1;
  stats.head_seq = head_seq;
  return OkStatus();
}

Expected<SealInfo> Store::Rotate() {
  std::optional<Expected<SealInfo>> result;
  Waiter waiter;  // only its `done` flag is used, to wait for the task
  Pending p;
  p.waiter = &waiter;
  p.task = [this, &result] { result.emplace(impl_->RotateNow()); };
  STOCKADE_RETURN_IF_ERROR(impl_->Enqueue(std::move(p)));
  std::unique_lock lock(impl_->mu);
  impl_->done_cv.wait(lock, [&] { return waiter.done; });
  return std::move(*result);
}

Expected<int> Store::ApplyRetention(TimeNs now) {
  std::optional<Expected<int>> result;
  Waiter waiter;
  Pending p;
  p.waiter = &waiter;
  p.task = [this, &result, now] { result.emplace(impl_->RetentionNow(now)); };
  STOCKADE_RETURN_IF_ERROR(impl_->Enqueue(std::move(p)));
  std::unique_lock lock(impl_->mu);
  impl_->done_cv.wait(lock, [&] { return waiter.done; });
  return std::move(*result);
}

Expected<SealInfo> Store::Impl::RotateNow() {
  if (head_seq < segment_first_seq) {
    return Error(ErrorCode::kNotFound,
                 "audit store " + options.path + ": the active segment holds no events to seal");
  }
  std::error_code ec;
  schema::Seal seal;
  seal.store_id = store_id;
  seal.info.segment = segment;
  seal.info.first_seq = segment_first_seq;
  seal.info.last_seq = head_seq;
  seal.info.event_count = head_seq - segment_first_seq + 1;
  seal.info.prev_hash = crypto::HexEncode(segment_prev_hash);
  seal.info.last_hash = crypto::HexEncode(head_hash);
  seal.info.sealed_at = NowNs();
  seal.info.archive_file = schema::ArchiveFileName(segment);
  {
    auto times = db->Prepare("SELECT min(time), max(time), count(*) FROM events");
    if (!times.ok()) return times.error();
    auto row = times->Step();
    if (!row.ok()) return row.error();
    seal.info.first_time = times->Int(0);
    seal.info.last_time = times->Int(1);
    if (times->Int(2) != seal.info.event_count) {
      return Error(ErrorCode::kStateCorrupt,
                   "audit store " + options.path + ": segment " + std::to_string(segment) +
                       " should hold " + std::to_string(seal.info.event_count) +
                       " events but holds " + std::to_string(times->Int(2)) +
                       "; not sealing it (run `stockade audit verify`)");
    }
  }
  auto seals = schema::ReadSeals(*db);
  if (!seals.ok()) return seals.error();
  seal.prev_seal_hash =
      seals->empty() ? crypto::HexEncode(kGenesisHash) : seals->back().info.seal_hash;
  seal.info.seal_hash = schema::SealHashHex(seal);

  const fs::path final_path = U8Path(archive_dir) / seal.info.archive_file;
  fs::path tmp_path = final_path;
  tmp_path += ".tmp";
  fs::remove(tmp_path, ec);
  if (fs::exists(final_path, ec)) {
    return Error(ErrorCode::kAlreadyExists,
                 "archive " + PathU8(final_path) + " already exists; not overwriting it");
  }
  // VACUUM INTO writes a consistent, compact copy of the store as of now (the writer is this
  // thread, so nothing changes meanwhile); the archive then gets its own seal row.
  STOCKADE_RETURN_IF_ERROR(db->Exec("VACUUM INTO " + SqlQuote(PathU8(tmp_path))));
  {
    sqlite::OpenOptions aopt;
    aopt.create = false;
    aopt.wal = false;
    aopt.synchronous = sqlite::Synchronous::kFull;
    aopt.foreign_keys = false;
    auto adb = sqlite::Database::Open(PathU8(tmp_path), aopt);
    if (!adb.ok()) return adb.error().Wrap("writing the archive");
    // A sealed archive is never written again: a rollback-journal file needs no -wal/-shm
    // companions, so it can be read from a read-only folder or copy.
    STOCKADE_RETURN_IF_ERROR(adb->Exec("PRAGMA journal_mode=DELETE"));
    auto tx = sqlite::Transaction::Begin(*adb);
    if (!tx.ok()) return tx.error();
    STOCKADE_RETURN_IF_ERROR(schema::InsertSeal(*adb, seal));
    STOCKADE_RETURN_IF_ERROR(
        schema::SetMeta(*adb, schema::kMetaArchiveOf, std::to_string(segment)));
    STOCKADE_RETURN_IF_ERROR(tx->Commit());
  }
  if (options.secure_permissions) {
    STOCKADE_RETURN_IF_ERROR(
        platform::ProtectPath(PathU8(tmp_path), platform::Protect::kReadOnlyFile));
  }
  fs::rename(tmp_path, final_path, ec);
  if (ec) {
    return Error(ErrorCode::kIo, "renaming " + PathU8(tmp_path) + " to " + PathU8(final_path) +
                                     ": " + ec.message());
  }
  {
    auto tx = sqlite::Transaction::Begin(*db);
    if (!tx.ok()) return tx.error();
    STOCKADE_RETURN_IF_ERROR(schema::InsertSeal(*db, seal));
    STOCKADE_RETURN_IF_ERROR(db->Exec("DELETE FROM events"));
    // Sessions still running carry over, so that their later events stay findable by
    // identity and workspace in the new segment.
    STOCKADE_RETURN_IF_ERROR(db->Exec("DELETE FROM sessions WHERE end_seq IS NOT NULL"));
    STOCKADE_RETURN_IF_ERROR(
        schema::SetMeta(*db, schema::kMetaSegment, std::to_string(segment + 1)));
    STOCKADE_RETURN_IF_ERROR(
        schema::SetMeta(*db, schema::kMetaSegmentFirstSeq, std::to_string(head_seq + 1)));
    STOCKADE_RETURN_IF_ERROR(
        schema::SetMeta(*db, schema::kMetaSegmentPrevHash, crypto::HexEncode(head_hash)));
    STOCKADE_RETURN_IF_ERROR(tx->Commit());
  }
  segment += 1;
  segment_first_seq = head_seq + 1;
  segment_prev_hash = head_hash;
  segment_first_time = 0;
  auto removed = RetentionNow(NowNs());
  if (!removed.ok()) {
    spdlog::error("audit store: retention after rotation: {}", removed.error().ToString());
  }
  return seal.info;
}

Expected<int> Store::Impl::RetentionNow(TimeNs now) {
  if (options.retention_days <= 0) return 0;
  const TimeNs cutoff =
      now - static_cast<TimeNs>(options.retention_days) * 86'400LL * 1'000'000'000LL;
  auto seals = schema::ReadSeals(*db);
  if (!seals.ok()) return seals.error();
  int removed = 0;
  for (const auto& s : *seals) {
    if (s.removed_at || s.info.last_time >= cutoff) continue;
    std::error_code ec;
    const fs::path file = U8Path(archive_dir) / s.info.archive_file;
    // Mark first, then delete: a crash in between leaves an archive marked removed, which
    // verify reports as still present rather than as missing.
    auto mark = db->Prepare("UPDATE seals SET removed_at = ?1 WHERE segment = ?2");
    if (!mark.ok()) return mark.error();
    STOCKADE_RETURN_IF_ERROR(mark->BindAll(now, s.info.segment));
    STOCKADE_RETURN_IF_ERROR(mark->Run());
    if (options.secure_permissions) {
      // A read-only file cannot be deleted on Windows; make it writable first.
      (void)platform::ProtectPath(PathU8(file), platform::Protect::kWritableFile);
    }
    fs::remove(file, ec);
    if (ec) {
      return Error(ErrorCode::kIo,
                   "removing the expired archive " + PathU8(file) + ": " + ec.message());
    }
    ++removed;
  }
  return removed;
}

StoreStats Store::Stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace stockade::audit
