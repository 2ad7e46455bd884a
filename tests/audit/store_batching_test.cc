// The store's ingest path and query plans: group commit under concurrent Record() callers,
// backpressure instead of loss, the SQLite settings of a new store, the schema migration that
// replaced the indexes, and the indexes the queries use (EXPLAIN QUERY PLAN).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "audit/canonical.h"
#include "audit/query.h"
#include "audit/schema.h"
#include "audit/store.h"
#include "audit/verify.h"
#include "core/sqlite/database.h"
#include "tests/audit/audit_test_support.h"

namespace stockade::audit {
namespace {

using testing::TempDir;
using testing::TestStoreOptions;

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string PragmaText(sqlite::Database& db, const std::string& sql) {
  auto stmt = db.Prepare(sql);
  EXPECT_TRUE(stmt.ok());
  if (!stmt.ok()) return "";
  auto row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row);
  return stmt->Text(0);
}

// 32 threads each calling Record() (which waits for the commit) while the writer is busy: the
// callers that queue meanwhile share the next commit, so there are fewer commits than events;
// every Record() got its own seq, every event is stored once, and the chain verifies.
TEST(AuditStoreBatchingTest, ThirtyTwoSynchronousWritersShareCommitsAndLoseNothing) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  constexpr int kThreads = 32;
  constexpr int kPerThread = 200;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  StoreStats stats;
  {
    auto opts = TestStoreOptions(path);
    opts.sync_every_batch = true;  // the service's setting: an fsync per commit
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<unsigned>(7000 + t));
        const std::string session = "sync-" + std::to_string(t);
        for (int i = 0; i < kPerThread; ++i) {
          Event e = testing::RandomEvent(rng, EventKind::kProcess, session);
          std::get<ProcessEvent>(e.body).pid = i;
          auto seq = (*store)->Record(std::move(e));
          if (!seq.ok()) {
            ++failures;
            continue;
          }
          seqs[static_cast<std::size_t>(t)].push_back(*seq);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    stats = (*store)->Stats();
    ASSERT_TRUE((*store)->Close().ok());
  }
  constexpr std::int64_t kTotal = kThreads * kPerThread;
  EXPECT_EQ(stats.recorded_events, kTotal);
  EXPECT_EQ(stats.failed_events, 0);
  // Group commit: with one commit per event this would equal kTotal.
  EXPECT_LT(stats.batches, kTotal) << "no two Record() calls shared a commit";
  std::set<std::int64_t> all;
  for (const auto& s : seqs) {
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));  // one thread's events stay in order
    all.insert(s.begin(), s.end());
  }
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kTotal));  // no seq handed out twice
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kTotal);
  auto reader = AuditReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto events = reader->Query({});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), static_cast<std::size_t>(kTotal));
  // The seq a caller got is the event stored under it.
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const Event& e = (*events)[static_cast<std::size_t>(seqs[t][i] - 1)];
      EXPECT_EQ(e.session_id, "sync-" + std::to_string(t));
      EXPECT_EQ(std::get<ProcessEvent>(e.body).pid, i);
    }
  }
  auto result = VerifyStore(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->first_break->detail;
  EXPECT_EQ(result->events_verified, kTotal);
}

// A queue of 64 events against 8 producers of 2,000 async events each: the producers must wait
// for room many times; none of their events is dropped.
TEST(AuditStoreBatchingTest, AFullQueueSlowsProducersDownAndDropsNothing) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  {
    auto opts = TestStoreOptions(path);
    opts.max_queued_events = 64;
    opts.max_batch_events = 16;
    opts.sync_every_batch = false;
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<unsigned>(900 + t));
        for (int i = 0; i < kPerThread; ++i) {
          Event e = testing::RandomEvent(rng, EventKind::kDenial, "bp-" + std::to_string(t));
          std::get<DenialEvent>(e.body).pid = i;
          if (!(*store)->RecordAsync(std::move(e)).ok()) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE((*store)->Flush().ok());
    EXPECT_EQ(failures.load(), 0);
    const StoreStats stats = (*store)->Stats();
    EXPECT_EQ(stats.recorded_events, kThreads * kPerThread);
    // Batches never exceed max_batch_events.
    EXPECT_GE(stats.batches, kThreads * kPerThread / 16);
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto reader = AuditReader::Open(path);
  ASSERT_TRUE(reader.ok());
  for (int t = 0; t < kThreads; ++t) {
    auto events = reader->Query({.session_id = "bp-" + std::to_string(t)});
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_EQ(std::get<DenialEvent>((*events)[static_cast<std::size_t>(i)].body).pid, i);
    }
  }
  auto result = VerifyStore(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->first_break->detail;
}

// RecordAsync events are committed within max_batch_latency without a Flush(): a reader in
// another connection sees them.
TEST(AuditStoreBatchingTest, AsyncEventsAreCommittedWithinTheBatchLatency) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  auto opts = TestStoreOptions(path);
  opts.max_batch_latency = std::chrono::milliseconds(20);
  auto store = Store::Open(opts);
  ASSERT_TRUE(store.ok());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*store)->RecordAsync(testing::RandomEventAny(rng, "lat")).ok());
  }
  auto reader = AuditReader::Open(path);
  ASSERT_TRUE(reader.ok());
  std::int64_t head = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (head < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto h = reader->HeadSeq();
    ASSERT_TRUE(h.ok());
    head = *h;
  }
  EXPECT_EQ(head, 3);
  ASSERT_TRUE((*store)->Close().ok());
}

// A new store gets the page size and schema version the store asks for, and its one events
// index; the canonical bytes patched with a seq equal those encoded with it.
TEST(AuditStoreBatchingTest, NewStoreHasTheTunedPageSizeAndTheFilterIndex) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  {
    auto store = Store::Open(TestStoreOptions(path));
    ASSERT_TRUE(store.ok());
    std::mt19937_64 rng(3);
    ASSERT_TRUE((*store)->Record(testing::RandomEventAny(rng, "p")).ok());
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto db = sqlite::Database::Open(path, {.create = false, .read_only = true});
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(PragmaText(*db, "PRAGMA page_size"), std::to_string(StoreOptions{}.page_size));
  EXPECT_EQ(PragmaText(*db, "PRAGMA user_version"), std::to_string(kStoreSchemaVersion));
  auto idx = db->Prepare(
      "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index' "
      "AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name)");
  ASSERT_TRUE(idx.ok());
  ASSERT_TRUE(idx->Step().ok());
  EXPECT_EQ(idx->Text(0), "events_filter");

  std::mt19937_64 rng(11);
  for (int i = 0; i < 50; ++i) {
    Event e = testing::RandomEventAny(rng, "patch", /*with_envelope=*/true);
    e.seq = 0;
    std::string bytes = EncodeCanonical(e);
    PatchCanonicalSeq(bytes, 1000 + i);
    e.seq = 1000 + i;
    EXPECT_EQ(bytes, EncodeCanonical(e));
    EXPECT_EQ(CanonicalSeq(bytes), 1000 + i);
  }
}

// The reused hash object (crypto::Sha256::Reset) gives what a fresh one gives, message after
// message, including after a message of a different length and an empty one.
TEST(AuditStoreBatchingTest, ChainHasherMatchesAFreshHashEveryTime) {
  std::mt19937_64 rng(31);
  ChainHasher hasher;
  crypto::Sha256Digest prev = kGenesisHash;
  for (int i = 0; i < 200; ++i) {
    std::string bytes(static_cast<std::size_t>(rng() % 700), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    auto reused = hasher.Hash(prev, bytes);
    auto fresh = ChainHash(prev, bytes);
    ASSERT_TRUE(reused.ok() && fresh.ok());
    ASSERT_EQ(*reused, *fresh) << "message " << i << " of " << bytes.size() << " bytes";
    prev = *reused;
  }
  // SHA-256 of 32 zero bytes: the genesis hash followed by an empty event.
  auto empty = hasher.Hash(kGenesisHash, "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(crypto::HexEncode(*empty),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
}

// A store written with schema version 1 (four indexes) is migrated at open: the old indexes
// are replaced by events_filter, the events and the chain are untouched, recording continues.
TEST(AuditStoreBatchingTest, VersionOneStoreIsMigratedAndStillVerifies) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  std::mt19937_64 rng(21);
  {
    auto store = Store::Open(TestStoreOptions(path));
    ASSERT_TRUE(store.ok());
    testing::FillStore(**store, rng, 40);
    ASSERT_TRUE((*store)->Close().ok());
  }
  {
    // Turn it back into what version 1 wrote.
    auto db = sqlite::Database::Open(path, {.foreign_keys = false});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("DROP INDEX events_filter;"
                         "CREATE INDEX events_time ON events(time);"
                         "CREATE INDEX events_session_time ON events(session_id, time);"
                         "CREATE INDEX events_kind_time ON events(kind, time);"
                         "CREATE INDEX events_image ON events(image) WHERE image IS NOT NULL;")
                    .ok());
    ASSERT_TRUE(db->SetUserVersion(1).ok());
  }
  {
    auto store = Store::Open(TestStoreOptions(path));
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    testing::FillStore(**store, rng, 10);
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto db = sqlite::Database::Open(path, {.create = false, .read_only = true});
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(PragmaText(*db, "PRAGMA user_version"), "2");
  EXPECT_EQ(PragmaText(*db,
                       "SELECT group_concat(name, ',') FROM sqlite_master WHERE type = 'index' "
                       "AND tbl_name = 'events' AND sql IS NOT NULL"),
            "events_filter");
  auto result = VerifyStore(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->first_break->detail;
  EXPECT_EQ(result->events_verified, 50);
}

// The plans SQLite runs: a workspace + time range query reads the time range of events_filter
// (and the sessions of the workspace through sessions_workspace), never the whole table; a
// tail from a seq seeks by seq; a range over the whole span reads in seq order without a sort.
TEST(AuditQueryPlanTest, WorkspaceAndTimeRangeUseTheIndexes) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  const TimeNs base = 1'800'000'000'000'000'000LL;
  {
    auto store = Store::Open(TestStoreOptions(path));
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 400; ++i) {
      Event e;
      e.session_id = "s" + std::to_string(i % 8);
      e.time = base + i * 1'000'000LL;
      if (i < 8) {
        SessionEvent s;
        s.identity = "offline";
        s.workspace = "/w/" + std::to_string(i % 4);
        s.start_time = e.time;
        e.body = s;
      } else {
        ProcessEvent p;
        p.image = "/usr/bin/cc";
        e.body = p;
      }
      ASSERT_TRUE((*store)->RecordAsync(std::move(e)).ok());
    }
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto reader = AuditReader::Open(path);
  ASSERT_TRUE(reader.ok());

  QueryFilter narrow;
  narrow.workspace = "/w/1";
  narrow.since = base + 100 * 1'000'000LL;
  narrow.until = base + 120 * 1'000'000LL;
  auto plan = reader->ExplainQuery(narrow);
  ASSERT_TRUE(plan.ok()) << plan.error().ToString();
  const std::string text = Joined(*plan);
  EXPECT_NE(text.find("SEARCH events USING INDEX events_filter (time>? AND time<?)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("USING INDEX sessions_workspace (workspace=?)"), std::string::npos) << text;
  EXPECT_EQ(text.find("SCAN events"), std::string::npos) << text;
  // And it returns what the filter asks for: sessions s1 and s5 are in /w/1.
  auto events = reader->Query(narrow);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 5u);  // times 100..119: i % 8 in {1, 5}
  for (std::size_t i = 0; i < events->size(); ++i) {
    const Event& e = (*events)[i];
    EXPECT_TRUE(e.session_id == "s1" || e.session_id == "s5") << e.session_id;
    EXPECT_GE(e.time, *narrow.since);
    EXPECT_LT(e.time, *narrow.until);
    if (i > 0) EXPECT_GT(e.seq, (*events)[i - 1].seq);
  }

  // A session filter alone scans the index, not the table.
  auto session_plan = reader->ExplainQuery({.session_id = "s3"});
  ASSERT_TRUE(session_plan.ok());
  EXPECT_NE(Joined(*session_plan).find("USING INDEX events_filter"), std::string::npos)
      << Joined(*session_plan);

  // tail: a seek by seq.
  auto tail_plan = reader->ExplainQuery({.workspace = "/w/1", .after_seq = 390});
  ASSERT_TRUE(tail_plan.ok());
  EXPECT_NE(Joined(*tail_plan).find("USING INTEGER PRIMARY KEY (rowid>?)"), std::string::npos)
      << Joined(*tail_plan);

  // The whole span: seq order, no temporary sort of every event.
  QueryFilter wide;
  wide.since = base;
  wide.until = base + 400 * 1'000'000LL;
  auto wide_plan = reader->ExplainQuery(wide);
  ASSERT_TRUE(wide_plan.ok());
  EXPECT_EQ(Joined(*wide_plan).find("TEMP B-TREE"), std::string::npos) << Joined(*wide_plan);
  auto all = reader->Query(wide);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 400u);
}

}  // namespace
}  // namespace stockade::audit
