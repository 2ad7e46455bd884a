// Rotation into sealed archives, retention, and verification across segments.
#include <gtest/gtest.h>

#include <filesystem>

#include "audit/canonical.h"
#include "audit/query.h"
#include "audit/schema.h"
#include "audit/store.h"
#include "audit/verify.h"
#include "core/sqlite/database.h"
#include "tests/audit/audit_test_support.h"

namespace stockade::audit {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void RecordN(Store& store, int n, std::mt19937_64& rng, TimeNs time = 0) {
  for (int i = 0; i < n; ++i) {
    Event e = testing::RandomEventAny(rng, "rot");
    e.time = time;
    ASSERT_TRUE(store.RecordAsync(e).ok());
  }
  ASSERT_TRUE(store.Flush().ok());
}

std::string HexBlob(const sqlite::Blob& b) {
  return crypto::HexEncode(std::span<const std::uint8_t>(b.data(), b.size()));
}

TEST(AuditRotationTest, ArchivesChainAcrossSegmentsAndVerify) {
  TempDir dir;
  const std::string path = dir.Utf8("audit/audit.db");
  std::mt19937_64 rng(11);
  SealInfo s1, s2;
  {
    auto store = Store::Open(testing::TestStoreOptions(path));
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    RecordN(**store, 30, rng);
    auto r1 = (*store)->Rotate();
    ASSERT_TRUE(r1.ok()) << r1.error().ToString();
    s1 = *r1;
    RecordN(**store, 20, rng);
    auto r2 = (*store)->Rotate();
    ASSERT_TRUE(r2.ok()) << r2.error().ToString();
    s2 = *r2;
    RecordN(**store, 10, rng);
    auto empty = (*store)->Rotate();
    EXPECT_TRUE(empty.ok());  // 10 events: a third segment
    RecordN(**store, 5, rng);
    ASSERT_TRUE((*store)->Close().ok());
  }
  EXPECT_EQ(s1.first_seq, 1);
  EXPECT_EQ(s1.last_seq, 30);
  EXPECT_EQ(s1.event_count, 30);
  EXPECT_EQ(s1.prev_hash, std::string(64, '0'));
  EXPECT_EQ(s2.first_seq, 31);
  EXPECT_EQ(s2.last_seq, 50);
  EXPECT_EQ(s2.prev_hash, s1.last_hash);  // the second segment chains from the first's seal

  // Read the second archive's first event directly: it chains from the first seal's hash.
  const fs::path archive2 = dir.path() / "audit" / "archive" / s2.archive_file;
  ASSERT_TRUE(fs::exists(archive2));
  {
    auto adb = sqlite::Database::Open(archive2.string(), {.create = false, .read_only = true});
    ASSERT_TRUE(adb.ok()) << adb.error().ToString();
    auto first = adb->Prepare("SELECT seq, prev_hash, hash FROM events ORDER BY seq LIMIT 1");
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(*first->Step());
    EXPECT_EQ(first->Int(0), 31);
    EXPECT_EQ(HexBlob(first->BlobValue(1)), s1.last_hash);
    auto last = adb->Prepare("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    ASSERT_TRUE(*last->Step());
    EXPECT_EQ(last->Int(0), 50);
    EXPECT_EQ(HexBlob(last->BlobValue(1)), s2.last_hash);  // the seal records the last hash
    auto seals = schema::ReadSeals(*adb);
    ASSERT_TRUE(seals.ok());
    ASSERT_EQ(seals->size(), 2u);
    EXPECT_EQ(seals->back().info.seal_hash, s2.seal_hash);
    EXPECT_EQ(seals->back().prev_seal_hash, s1.seal_hash);
  }
  auto result = VerifyStore(path);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  ASSERT_TRUE(result->ok()) << result->first_break->detail;
  EXPECT_EQ(result->events_verified, 65);
  EXPECT_EQ(result->segments_verified, 4);
  EXPECT_EQ(result->head_seq, 65);

  auto reader = AuditReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto all = reader->Query({});
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  ASSERT_EQ(all->size(), 65u);
  for (std::size_t i = 0; i < all->size(); ++i)
    EXPECT_EQ((*all)[i].seq, static_cast<std::int64_t>(i + 1));
  auto tail = reader->Query({.after_seq = 45, .limit = 3});
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ(tail->front().seq, 46);
}

TEST(AuditRotationTest, TamperingInsideAnArchiveAndMissingArchivesAreNamed) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  std::mt19937_64 rng(12);
  SealInfo s1, s2;
  {
    auto store = Store::Open(testing::TestStoreOptions(path));
    ASSERT_TRUE(store.ok());
    RecordN(**store, 20, rng);
    s1 = *(*store)->Rotate();
    RecordN(**store, 20, rng);
    s2 = *(*store)->Rotate();
    RecordN(**store, 5, rng);
    ASSERT_TRUE((*store)->Close().ok());
  }
  const fs::path a1 = dir.path() / "archive" / s1.archive_file;
  const fs::path a2 = dir.path() / "archive" / s2.archive_file;
  fs::permissions(a1, fs::perms::owner_read | fs::perms::owner_write);
  fs::copy_file(a1, dir.path() / "a1-original.db");
  {
    auto adb = sqlite::Database::Open(a1.string(), {.create = false, .wal = false});
    ASSERT_TRUE(adb.ok()) << adb.error().ToString();
    ASSERT_TRUE(adb->Exec("UPDATE events SET data = data || x'00' WHERE seq = 7").ok());
  }
  auto r = VerifyStore(path);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->first_break->seq, 7);
  EXPECT_EQ(r->first_break->kind, BreakKind::kModified);
  EXPECT_NE(r->first_break->file.find(s1.archive_file), std::string::npos);

  // A missing archive (not removed by retention) is named by its first event.
  fs::permissions(a2, fs::perms::owner_read | fs::perms::owner_write);
  fs::rename(a2, dir.path() / "moved-away.db");
  // Undo the first tampering so the missing archive is the first break.
  // remove + copy: mingw's libstdc++ refuses overwrite_existing ("File exists").
  fs::remove(a1);
  fs::copy_file(dir.path() / "a1-original.db", a1);
  r = VerifyStore(path);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->first_break->kind, BreakKind::kArchiveMissing);
  EXPECT_EQ(r->first_break->seq, 21);

  // An archive replaced by one with an altered seal.
  fs::rename(dir.path() / "moved-away.db", a2);
  {
    auto adb = sqlite::Database::Open(a2.string(), {.create = false, .wal = false});
    ASSERT_TRUE(adb->Exec("UPDATE seals SET event_count = event_count + 1 WHERE segment = 2").ok());
  }
  r = VerifyStore(path);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->first_break->kind, BreakKind::kSealMismatch);
  EXPECT_EQ(r->first_break->seq, 21);
}

TEST(AuditRotationTest, RetentionRemovesOldArchivesAndTheChainStillVerifies) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  std::mt19937_64 rng(13);
  const TimeNs old = NowNs() - 100LL * 86'400 * 1'000'000'000;
  SealInfo s1;
  {
    auto opts = testing::TestStoreOptions(path);
    opts.retention_days = 30;
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok());
    RecordN(**store, 15, rng, old);
    s1 = *(*store)->Rotate();  // sealed, then expired at once: its events are 100 days old
    RecordN(**store, 6, rng);
    auto recent = (*store)->Rotate();  // recent: kept
    ASSERT_TRUE(recent.ok());
    RecordN(**store, 4, rng);
    ASSERT_TRUE((*store)->Close().ok());
  }
  EXPECT_FALSE(fs::exists(dir.path() / "archive" / s1.archive_file));
  EXPECT_TRUE(fs::exists(dir.path() / "archive" / schema::ArchiveFileName(2)));
  auto r = VerifyStore(path);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->ok()) << r->first_break->detail;
  EXPECT_EQ(r->segments_expired, 1);
  EXPECT_EQ(r->events_verified, 10);
  EXPECT_EQ(r->first_seq, 16);
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_NE(r->notes[0].find("removed by retention"), std::string::npos);
  auto reader = AuditReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto all = reader->Query({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 10u);
  EXPECT_EQ(all->front().seq, 16);
}

TEST(AuditRotationTest, AutomaticRotationByCountKeepsEveryEvent) {
  TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  std::mt19937_64 rng(14);
  {
    auto opts = testing::TestStoreOptions(path);
    opts.rotate_after_events = 25;
    opts.max_batch_events = 10;
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok());
    RecordN(**store, 100, rng);
    ASSERT_TRUE((*store)->Close().ok());
  }
  int archives = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() / "archive")) {
    if (entry.path().extension() == ".db") ++archives;
  }
  EXPECT_GE(archives, 3);
  auto r = VerifyStore(path);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->ok()) << r->first_break->detail;
  EXPECT_EQ(r->head_seq, 100);
  auto reader = AuditReader::Open(path);
  auto all = reader->Query({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 100u);
}

// A crash after the archive was written but before the store dropped the sealed events: the
// next open finishes the rotation.
TEST(AuditRotationTest, InterruptedRotationIsFinishedAtOpen) {
  TempDir dir;
  const std::string path = dir.Utf8("s/audit.db");
  std::mt19937_64 rng(15);
  {
    auto store = Store::Open(testing::TestStoreOptions(path));
    ASSERT_TRUE(store.ok());
    RecordN(**store, 12, rng);
    ASSERT_TRUE((*store)->Close().ok());
  }
  fs::copy_file(dir.path() / "s" / "audit.db", dir.path() / "before.db");
  {
    auto store = Store::Open(testing::TestStoreOptions(path));
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Rotate().ok());
    ASSERT_TRUE((*store)->Close().ok());
  }
  // Back to the state before step 2 of the rotation, with the archive in place.
  fs::remove(dir.path() / "s" / "audit.db");
  fs::copy_file(dir.path() / "before.db", dir.path() / "s" / "audit.db");
  {
    auto store = Store::Open(testing::TestStoreOptions(path));
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    RecordN(**store, 3, rng);
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto r = VerifyStore(path);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->ok()) << r->first_break->detail;
  EXPECT_EQ(r->segments_verified, 2);
  EXPECT_EQ(r->head_seq, 15);
}

}  // namespace
}  // namespace stockade::audit
