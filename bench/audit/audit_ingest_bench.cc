// Benchmark: recording audit events through audit::Store (canonical encoding, SHA-256 chain,
// writer thread, batched WAL commits) versus plain SQLite inserts of the same rows (same schema
// and indexes, same page size and page cache, same batch size, same synchronous setting, bytes
// encoded before the clock starts, hashes not computed), in the same run on the same disk. Then
// verification of the whole chain, and a query by workspace and time range, on the store just
// written. bench/run.sh runs it and prints the ratios with the load average.
//
//   bench_audit_ingest [--events N] [--batch N] [--sync full|normal] [--dir D]
//
// Prints events/s for each, the ratio (goal >= 0.5x, >= 300,000 events/s), verify time (goal
// < 2 s for 1,000,000 events) and query time (goal < 10 ms), with CPU times beside wall times.
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "audit/canonical.h"
#include "audit/query.h"
#include "audit/schema.h"
#include "audit/store.h"
#include "audit/verify.h"
#include "bench/bench_clock.h"
#include "core/sqlite/database.h"

namespace {

namespace fs = std::filesystem;
using namespace stockade;
using stockade::bench::Measure;
using stockade::bench::Timing;

struct Config {
  long events = 1'000'000;
  int batch = 4096;
  bool sync_full = true;
  std::string dir;
};

constexpr int kSessions = 1000;
constexpr int kWorkspaces = 50;
constexpr audit::TimeNs kStart = 1'800'000'000'000'000'000LL;
constexpr audit::TimeNs kStep = 1'000'000;  // 1 ms between events

// Mostly process events, one session start per session, a few denials: what a busy fleet
// machine records.
std::vector<audit::Event> MakeEvents(long n) {
  std::vector<audit::Event> out;
  out.reserve(static_cast<std::size_t>(n));
  std::mt19937_64 rng(42);
  for (long i = 0; i < n; ++i) {
    const int s = static_cast<int>(i % kSessions);
    audit::Event e;
    e.time = kStart + i * kStep;
    e.host = "bench-host";
    e.session_id = "5c0f7d1e-0000-4000-8000-" + std::to_string(100000000000 + s);
    if (i < kSessions) {
      audit::SessionEvent b;
      b.identity = s % 2 ? "offline" : "online";
      b.workspace = "/home/dev/ws" + std::to_string(s % kWorkspaces);
      b.policy_hash = std::string(64, 'c');
      b.invoking_uid = 1000;
      b.invoking_user = "dev";
      b.argv = {"bash", "-lc", "make -j8 test"};
      b.cwd = b.workspace;
      b.start_time = e.time;
      e.body = b;
    } else if (i % 50 == 0) {
      audit::DenialEvent b;
      b.category = audit::DenialCategory::kFileWrite;
      b.target = "/home/dev/ws1/.git/config";
      b.access = "write";
      b.pid = static_cast<std::int64_t>(rng() % 4'000'000);
      b.process_guid = "pg-" + std::to_string(i);
      b.source = audit::DenialSource::kLandlock;
      b.evidence =
          "type=LANDLOCK_ACCESS msg=audit(1800000000.000:1): domain=1 blockers=fs.write_file";
      e.body = b;
    } else {
      audit::ProcessEvent b;
      b.phase = audit::ProcessPhase::kExec;
      b.process_guid = "pg-" + std::to_string(i);
      b.pid = static_cast<std::int64_t>(rng() % 4'000'000);
      b.parent_guid = "pg-" + std::to_string(i - 1);
      b.parent_pid = b.pid - 1;
      b.image = "/usr/bin/cc";
      b.argv = {"cc", "-O2",
                "-c", "src/module" + std::to_string(i % 300) + ".c",
                "-o", "build/module" + std::to_string(i % 300) + ".o"};
      b.cwd = "/home/dev/ws" + std::to_string(s % kWorkspaces);
      b.uid = 999;
      b.start_time = e.time;
      e.body = b;
    }
    out.push_back(std::move(e));
  }
  return out;
}

void Die(const std::string& what) {
  std::fprintf(stderr, "bench_audit_ingest: %s\n", what.c_str());
  std::exit(1);
}

// Plain inserts of the rows the store writes (canonical bytes precomputed, hashes constant),
// through the raw C API, into a database with the store's schema.
Timing PlainInsert(const std::string& path, const std::vector<audit::Event>& events,
                   const Config& cfg) {
  // The store's own SQLite settings (page size, page cache), so that the two sides differ only
  // by what the store adds: encoding, hashing, the writer thread, the head update.
  const audit::StoreOptions store_defaults;
  {
    sqlite::OpenOptions o;
    o.synchronous = cfg.sync_full ? sqlite::Synchronous::kFull : sqlite::Synchronous::kNormal;
    o.page_size = store_defaults.page_size;
    auto db = sqlite::Database::Open(path, o);
    if (!db.ok()) Die(db.error().ToString());
    Status s = audit::schema::Migrate(*db);
    if (!s.ok()) Die(s.error().ToString());
  }
  // Rows prepared up front: this side measures SQLite alone.
  struct Row {
    std::string data;
    std::int64_t time;
    int kind;
    const std::string* session;
    const std::string* image;
  };
  std::vector<Row> rows;
  rows.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    audit::Event e = events[i];
    e.seq = static_cast<std::int64_t>(i + 1);
    const auto* p = std::get_if<audit::ProcessEvent>(&events[i].body);
    rows.push_back({audit::EncodeCanonical(e), e.time, static_cast<int>(e.kind()),
                    &events[i].session_id, p ? &p->image : nullptr});
  }
  const std::string hash(32, 'h');
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Die("open plain");
  sqlite3_exec(db, cfg.sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", nullptr,
               nullptr, nullptr);
  sqlite3_exec(db, ("PRAGMA cache_size=-" + std::to_string(store_defaults.cache_size_kib)).c_str(),
               nullptr, nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO events(seq, time, kind, session_id, image, data, prev_hash, "
                     "hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                     -1, &ins, nullptr);
  const Timing t = Measure([&] {
    for (std::size_t i = 0; i < rows.size();) {
      sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      const std::size_t end = std::min(rows.size(), i + static_cast<std::size_t>(cfg.batch));
      for (; i < end; ++i) {
        const Row& r = rows[i];
        sqlite3_bind_int64(ins, 1, static_cast<sqlite3_int64>(i + 1));
        sqlite3_bind_int64(ins, 2, r.time);
        sqlite3_bind_int(ins, 3, r.kind);
        sqlite3_bind_text(ins, 4, r.session->data(), static_cast<int>(r.session->size()),
                          SQLITE_STATIC);
        if (r.image) {
          sqlite3_bind_text(ins, 5, r.image->data(), static_cast<int>(r.image->size()),
                            SQLITE_STATIC);
        } else {
          sqlite3_bind_null(ins, 5);
        }
        sqlite3_bind_blob(ins, 6, r.data.data(), static_cast<int>(r.data.size()), SQLITE_STATIC);
        sqlite3_bind_blob(ins, 7, hash.data(), 32, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 8, hash.data(), 32, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
          Die(std::string("plain insert: ") + sqlite3_errmsg(db));
        sqlite3_reset(ins);
      }
      if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) Die("commit");
    }
  });
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return t;
}

// Consumes `events`: each is moved into RecordAsync, as a producer hands over the event it
// built (the plain side likewise starts from rows built before the clock starts).
Timing Recorder(const std::string& path, std::vector<audit::Event>& events, const Config& cfg) {
  audit::StoreOptions o;
  o.path = path;
  o.secure_permissions = false;
  o.max_batch_events = static_cast<std::size_t>(cfg.batch);
  o.sync_every_batch = cfg.sync_full;
  o.retention_days = 0;
  auto store = audit::Store::Open(o);
  if (!store.ok()) Die(store.error().ToString());
  const Timing t = Measure([&] {
    for (auto& e : events) {
      Status s = (*store)->RecordAsync(std::move(e));
      if (!s.ok()) Die(s.error().ToString());
    }
    Status s = (*store)->Flush();
    if (!s.ok()) Die(s.error().ToString());
  });
  const auto stats = (*store)->Stats();
  if (stats.recorded_events != static_cast<std::int64_t>(events.size())) Die("events lost");
  std::printf("recorder batches: %lld (%.0f events per commit)\n",
              static_cast<long long>(stats.batches),
              static_cast<double>(stats.recorded_events) / static_cast<double>(stats.batches));
  Status s = (*store)->Close();
  if (!s.ok()) Die(s.error().ToString());
  return t;
}

long Count(const std::string& path) {
  auto db = sqlite::Database::Open(path, {.create = false, .read_only = true});
  if (!db.ok()) Die(db.error().ToString());
  auto st = db->Prepare("SELECT count(*) FROM events");
  if (!st.ok() || !st->Step().ok()) Die("count");
  return static_cast<long>(st->Int(0));
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--events") {
      cfg.events = std::atol(value.c_str());
    } else if (flag == "--batch") {
      cfg.batch = std::atoi(value.c_str());
    } else if (flag == "--sync") {
      cfg.sync_full = value != "normal";
    } else if (flag == "--dir") {
      cfg.dir = value;
    } else {
      Die("unknown flag " + flag);
    }
  }
  const fs::path dir =
      cfg.dir.empty() ? fs::temp_directory_path() / "stockade-bench-audit" : fs::path(cfg.dir);
  fs::remove_all(dir);
  fs::create_directories(dir / "plain");
  fs::create_directories(dir / "store");
  auto events = MakeEvents(cfg.events);
  std::printf("events: %ld, batch %d, synchronous=%s, dir %s\n", cfg.events, cfg.batch,
              cfg.sync_full ? "FULL" : "NORMAL", dir.string().c_str());

  const std::string plain_path = (dir / "plain" / "plain.db").string();
  const std::string store_path = (dir / "store" / "audit.db").string();
  const Timing plain = PlainInsert(plain_path, events, cfg);
  const Timing ours = Recorder(store_path, events, cfg);
  if (Count(plain_path) != cfg.events || Count(store_path) != cfg.events) Die("row count");
  const double n = static_cast<double>(cfg.events);
  std::printf("plain sqlite insert:   %10.0f events/s (wall %.3f s, cpu %.3f s)\n", n / plain.wall,
              plain.wall, plain.cpu);
  std::printf("audit::Store recorder: %10.0f events/s (wall %.3f s, cpu %.3f s)\n", n / ours.wall,
              ours.wall, ours.cpu);
  std::printf("ratio recorder/plain:  %.3f (wall)  %.3f (cpu: plain cpu / recorder cpu)\n",
              plain.wall / ours.wall, plain.cpu / ours.cpu);

  audit::VerifyResult result;
  const Timing verify = Measure([&] {
    auto r = audit::VerifyStore(store_path);
    if (!r.ok()) Die(r.error().ToString());
    result = *r;
  });
  if (!result.ok() || result.events_verified != cfg.events) Die("verify failed");
  std::printf("verify %ld events:     wall %.3f s, cpu %.3f s (%.0f events/s)\n", cfg.events,
              verify.wall, verify.cpu, n / verify.wall);

  auto reader = audit::AuditReader::Open(store_path);
  if (!reader.ok()) Die(reader.error().ToString());
  // One workspace (1/50 of the sessions) over 1% of the time span.
  audit::QueryFilter f;
  f.workspace = "/home/dev/ws7";
  f.since = kStart + cfg.events * kStep / 2;
  f.until = *f.since + cfg.events * kStep / 100;
  std::vector<double> times;
  std::size_t matched = 0;
  for (int i = 0; i < 21; ++i) {
    const Timing q = Measure([&] {
      auto r = reader->Query(f);
      if (!r.ok()) Die(r.error().ToString());
      matched = r->size();
    });
    times.push_back(q.wall);
  }
  std::sort(times.begin(), times.end());
  std::printf("query workspace+time:  median %.3f ms, min %.3f ms (%zu events of %ld)\n",
              times[times.size() / 2] * 1e3, times.front() * 1e3, matched, cfg.events);
  const double query_ms = times[times.size() / 2] * 1e3;
  // The goals, judged on wall time (the CPU figures above show how much of a miss is the
  // machine's load rather than the work).
  auto goal = [](bool met) { return met ? "met" : "NOT met"; };
  std::printf(
      "goals: ingest >= 300000 events/s: %s; >= 0.5x plain: %s; verify 1M < 2 s: %s%s; "
      "query < 10 ms: %s\n",
      goal(n / ours.wall >= 300'000), goal(plain.wall / ours.wall >= 0.5),
      goal(verify.wall < 2.0 * n / 1e6), cfg.events == 1'000'000 ? "" : " (scaled)",
      goal(query_ms < 10));
  std::printf(
      "RESULT plain_eps=%.0f recorder_eps=%.0f ratio=%.3f plain_cpu_s=%.3f recorder_cpu_s=%.3f "
      "cpu_ratio=%.3f verify_s=%.3f verify_cpu_s=%.3f query_ms=%.3f events=%ld\n",
      n / plain.wall, n / ours.wall, plain.wall / ours.wall, plain.cpu, ours.cpu,
      plain.cpu / ours.cpu, verify.wall, verify.cpu, query_ms, cfg.events);
  fs::remove_all(dir);
  return 0;
}
