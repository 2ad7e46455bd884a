// The store: sequence numbers, the chain, reopening, concurrent recording without loss, queries.
#include "audit/store.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "audit/canonical.h"
#include "audit/query.h"
#include "audit/verify.h"
#include "core/sqlite/database.h"
#include "tests/audit/audit_test_support.h"

namespace stockade::audit {
namespace {

using testing::TempDir;
using testing::TestStoreOptions;

TEST(AuditStoreTest, RecordAssignsConsecutiveSeqAndChainsFromGenesis) {
  TempDir dir;
  const std::string path = dir.Utf8("audit/audit.db");
  std::mt19937_64 rng(1);
  {
    auto store = Store::Open(TestStoreOptions(path));
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    for (int i = 1; i <= 20; ++i) {
      auto seq = (*store)->Record(testing::RandomEventAny(rng, "s1"));
      ASSERT_TRUE(seq.ok()) << seq.error().ToString();
      EXPECT_EQ(*seq, i);
    }
    ASSERT_TRUE((*store)->Close().ok());
  }
  // Recompute the chain from the raw rows, independently of VerifyStore.
  auto db = sqlite::Database::Open(path, {.create = false, .read_only = true});
  ASSERT_TRUE(db.ok()) << db.error().ToString();
  auto stmt = db->Prepare("SELECT seq, data, prev_hash, hash FROM events ORDER BY seq");
  ASSERT_TRUE(stmt.ok());
  crypto::Sha256Digest prev = kGenesisHash;
  int rows = 0;
  while (*stmt->Step()) {
    ++rows;
    const auto data = stmt->BlobValue(1);
    const std::string bytes(data.begin(), data.end());
    auto expected = crypto::Sha256::Create();
    ASSERT_TRUE(expected.ok());
    ASSERT_TRUE(expected->Update(std::span<const std::uint8_t>(prev)).ok());
    ASSERT_TRUE(expected->Update(bytes).ok());
    auto digest = expected->Final();
    ASSERT_TRUE(digest.ok());
    EXPECT_EQ(stmt->BlobValue(2), sqlite::Blob(prev.begin(), prev.end())) << "row " << rows;
    EXPECT_EQ(stmt->BlobValue(3), sqlite::Blob(digest->begin(), digest->end())) << "row " << rows;
    auto event = DecodeCanonical(bytes);
    ASSERT_TRUE(event.ok());
    EXPECT_EQ(event->seq, stmt->Int(0));
    EXPECT_EQ(event->host, "test-host");
    EXPECT_NE(event->time, 0);
    prev = *digest;
  }
  EXPECT_EQ(rows, 20);
  auto journal = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(journal.ok());
  ASSERT_TRUE(*journal->Step());
  EXPECT_EQ(journal->Text(0), "wal");
}

TEST(AuditStoreTest, ReopenContinuesTheChain) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  std::mt19937_64 rng(2);
  for (int round = 0; round < 3; ++round) {
    auto store = Store::Open(TestStoreOptions(path));
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE((*store)->RecordAsync(testing::RandomEventAny(rng, "s")).ok());
    ASSERT_TRUE((*store)->Flush().ok());
    EXPECT_EQ((*store)->Stats().head_seq, 10 * (round + 1));
  }
  auto result = VerifyStore(path);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_TRUE(result->ok()) << result->first_break->detail;
  EXPECT_EQ(result->events_verified, 30);
  EXPECT_EQ(result->head_seq, 30);
}

TEST(AuditStoreTest, RejectsInvalidEventsWithoutRecordingThem) {
  TempDir dir;
  auto store = Store::Open(TestStoreOptions(dir.Utf8("audit.db")));
  ASSERT_TRUE(store.ok());
  Event bad;
  DenialEvent d;
  d.category = static_cast<DenialCategory>(9);
  bad.body = d;
  auto seq = (*store)->Record(bad);
  ASSERT_FALSE(seq.ok());
  EXPECT_EQ(seq.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(seq.error().context().find("category"), std::string::npos);
  Event big;
  ProcessEvent p;
  p.image = std::string(kMaxStringBytes + 1, 'x');
  big.body = p;
  EXPECT_EQ((*store)->RecordAsync(big).error().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE((*store)->Close().ok());
  auto reader = AuditReader::Open(dir.Utf8("audit.db"));
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*reader->HeadSeq(), 0);
  EXPECT_EQ((*store)->Record(Event{}).error().code(), ErrorCode::kInternal);
}

// 32 threads, each a session recording its own sequence of events, sync and async mixed: every
// event is present exactly once, each session's events keep their order, and the chain verifies.
TEST(AuditStoreTest, ThirtyTwoConcurrentSessionsLoseNothing) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  constexpr int kThreads = 32;
  constexpr int kPerThread = 500;
  {
    auto opts = TestStoreOptions(path);
    opts.max_batch_events = 256;  // many batches
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<unsigned>(100 + t));
        const std::string session = "session-" + std::to_string(t);
        for (int i = 0; i < kPerThread; ++i) {
          Event e = testing::RandomEvent(rng, EventKind::kProcess, session);
          std::get<ProcessEvent>(e.body).pid = i;  // the per-session order marker
          Status s = (i % 10 == 0)
                         ? Status((*store)->Record(e).ok() ? OkStatus()
                                                           : Error(ErrorCode::kInternal, "record"))
                         : (*store)->RecordAsync(e);
          if (!s.ok()) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE((*store)->Flush().ok());
    EXPECT_EQ(failures.load(), 0);
    const StoreStats stats = (*store)->Stats();
    EXPECT_EQ(stats.recorded_events, kThreads * kPerThread);
    EXPECT_EQ(stats.failed_events, 0);
    EXPECT_GT(stats.batches, 1);
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto reader = AuditReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  auto events = reader->Query({});
  ASSERT_TRUE(events.ok()) << events.error().ToString();
  ASSERT_EQ(events->size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::map<std::string, std::int64_t> next;
  std::int64_t expected_seq = 1;
  for (const Event& e : *events) {
    EXPECT_EQ(e.seq, expected_seq++);
    const auto& p = std::get<ProcessEvent>(e.body);
    EXPECT_EQ(p.pid, next[e.session_id]++) << e.session_id;
  }
  EXPECT_EQ(next.size(), static_cast<std::size_t>(kThreads));
  for (const auto& [session, count] : next) EXPECT_EQ(count, kPerThread) << session;
  auto result = VerifyStore(path);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->first_break->detail;
  EXPECT_EQ(result->events_verified, kThreads * kPerThread);
}

TEST(AuditQueryTest, FiltersBySessionIdentityWorkspaceImageKindAndTime) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  auto store = Store::Open(TestStoreOptions(path));
  ASSERT_TRUE(store.ok());
  auto session = [&](const std::string& id, const std::string& identity,
                     const std::string& workspace, TimeNs t) {
    Event e;
    e.session_id = id;
    e.time = t;
    SessionEvent s;
    s.identity = identity;
    s.workspace = workspace;
    s.start_time = t;
    e.body = s;
    ASSERT_TRUE((*store)->Record(e).ok());
  };
  auto process = [&](const std::string& id, const std::string& image, TimeNs t) {
    Event e;
    e.session_id = id;
    e.time = t;
    ProcessEvent p;
    p.image = image;
    e.body = p;
    ASSERT_TRUE((*store)->Record(e).ok());
  };
  const TimeNs base = 1'800'000'000'000'000'000LL;
  session("A", "offline", "/w/one", base + 1);
  session("B", "online", "/w/two", base + 2);
  process("A", "/usr/bin/python3", base + 3);
  process("B", "/usr/bin/python3", base + 4);
  process("A", "/bin/sh", base + 5);
  process("B", "C:\\Tools\\python3", base + 6);
  ASSERT_TRUE((*store)->Flush().ok());
  auto reader = AuditReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto seqs = [&](const QueryFilter& f) {
    std::vector<std::int64_t> out;
    auto events = reader->Query(f);
    EXPECT_TRUE(events.ok()) << events.error().ToString();
    if (events.ok()) {
      for (const auto& e : *events) out.push_back(e.seq);
    }
    return out;
  };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(seqs({.session_id = "A"}), (V{1, 3, 5}));
  EXPECT_EQ(seqs({.identity = "online"}), (V{2, 4, 6}));
  EXPECT_EQ(seqs({.workspace = "/w/one"}), (V{1, 3, 5}));
  EXPECT_EQ(seqs({.image = "python3"}), (V{3, 4, 6}));
  EXPECT_EQ(seqs({.image = "/usr/bin/python3"}), (V{3, 4}));
  EXPECT_EQ(seqs({.kind = EventKind::kSession}), (V{1, 2}));
  EXPECT_EQ(seqs({.since = base + 3, .until = base + 5}), (V{3, 4}));
  EXPECT_EQ(seqs({.since = base + 4, .workspace = "/w/two"}), (V{4, 6}));
  EXPECT_EQ(seqs({.after_seq = 4}), (V{5, 6}));
  EXPECT_EQ(seqs({.limit = 2}), (V{1, 2}));
  EXPECT_EQ(seqs({.image = "py%"}), (V{}));  // LIKE wildcards are literal
}

}  // namespace
}  // namespace stockade::audit
