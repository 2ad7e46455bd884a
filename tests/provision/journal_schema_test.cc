// The journal file: creation with WAL + synchronous=FULL (read back from SQLite), the versioned
// schema and its migration, and the refusals: a newer schema, a garbage file, a foreign SQLite
// file, a damaged schema, a damaged page.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/sqlite/database.h"
#include "journal_test_support.h"
#include "provision/journal/journal.h"
#include "provision/journal/schema.h"

namespace stockade::provision {
namespace {

using journal_test::TempDir;

std::string PragmaText(sqlite::Database& db, const std::string& sql) {
  auto stmt = db.Prepare(sql);
  EXPECT_TRUE(stmt.ok()) << stmt.error().ToString();
  auto row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  return stmt->Text(0);
}

std::int64_t CountTables(sqlite::Database& db) {
  auto stmt = db.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
  EXPECT_TRUE(stmt.ok());
  auto row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row);
  return stmt->Int(0);
}

TEST(JournalSchemaTest, CreatesWalFullSynchronousAndStampsVersion) {
  TempDir dir;
  {
    auto journal = Journal::Open(dir.path());
    ASSERT_TRUE(journal.ok()) << journal.error().ToString();
    EXPECT_EQ(journal->path(), Journal::PathFor(dir.path()));
    EXPECT_EQ(journal->schema_version(), journal_schema::LatestVersion());
    sqlite::Database& db = journal->database();
    EXPECT_EQ(PragmaText(db, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(PragmaText(db, "PRAGMA synchronous"), "2");  // FULL
    EXPECT_EQ(PragmaText(db, "PRAGMA user_version"),
              std::to_string(journal_schema::LatestVersion()));
    EXPECT_EQ(PragmaText(db, "PRAGMA application_id"),
              std::to_string(journal_schema::kApplicationId));
  }
  EXPECT_TRUE(journal_test::Exists(Journal::PathFor(dir.path())));
  // An independent connection sees the same stamps, and reopening migrates nothing again.
  auto raw = sqlite::Database::Open(Journal::PathFor(dir.path()));
  ASSERT_TRUE(raw.ok()) << raw.error().ToString();
  const std::int64_t tables = CountTables(*raw);
  EXPECT_GE(tables, 2);
  auto again = Journal::Open(dir.path());
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(CountTables(*raw), tables);
}

TEST(JournalSchemaTest, MigratesAnEmptyFile) {
  TempDir dir;
  journal_test::WriteTextFile(Journal::PathFor(dir.path()), "");
  auto journal = Journal::Open(dir.path());
  ASSERT_TRUE(journal.ok()) << journal.error().ToString();
  auto txns = journal->ListTransactions();
  ASSERT_TRUE(txns.ok()) << txns.error().ToString();
  EXPECT_TRUE(txns->empty());
}

TEST(JournalSchemaTest, NewerSchemaIsStateTooNew) {
  TempDir dir;
  {
    auto journal = Journal::Open(dir.path());
    ASSERT_TRUE(journal.ok()) << journal.error().ToString();
    ASSERT_TRUE(journal->database().SetUserVersion(journal_schema::LatestVersion() + 41).ok());
  }
  auto journal = Journal::Open(dir.path());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().code(), ErrorCode::kStateTooNew) << journal.error().ToString();
  const std::string& context = journal.error().context();
  EXPECT_NE(context.find(Journal::PathFor(dir.path())), std::string::npos) << context;
  EXPECT_NE(context.find(std::to_string(journal_schema::LatestVersion() + 41)), std::string::npos)
      << context;
  EXPECT_NE(context.find("newer Stockade"), std::string::npos) << context;
  // Read-only opens refuse the same way.
  JournalOptions ro;
  ro.read_only = true;
  auto read_only = Journal::Open(dir.path(), ro);
  ASSERT_FALSE(read_only.ok());
  EXPECT_EQ(read_only.error().code(), ErrorCode::kStateTooNew);
}

TEST(JournalSchemaTest, GarbageFileIsStateCorruptNamingTheFile) {
  TempDir dir;
  std::string garbage;
  for (int i = 0; i < 512; ++i) garbage += "this is not an SQLite database. ";
  journal_test::WriteTextFile(Journal::PathFor(dir.path()), garbage);
  auto journal = Journal::Open(dir.path());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().code(), ErrorCode::kStateCorrupt) << journal.error().ToString();
  EXPECT_NE(journal.error().context().find(Journal::PathFor(dir.path())), std::string::npos)
      << journal.error().context();
  // The file was not touched.
  EXPECT_EQ(journal_test::ReadTextFile(Journal::PathFor(dir.path())), garbage);
}

TEST(JournalSchemaTest, ForeignSqliteDatabaseIsRefused) {
  TempDir dir;
  {
    auto db = sqlite::Database::Open(Journal::PathFor(dir.path()));
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    ASSERT_TRUE(db->Exec("CREATE TABLE photos (id INTEGER PRIMARY KEY)").ok());
  }
  auto journal = Journal::Open(dir.path());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().code(), ErrorCode::kStateCorrupt);
  EXPECT_NE(journal.error().context().find("not a Stockade journal"), std::string::npos)
      << journal.error().context();
  // Nothing was added to it.
  auto db = sqlite::Database::Open(Journal::PathFor(dir.path()));
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(CountTables(*db), 1);
}

TEST(JournalSchemaTest, MissingTableIsStateCorrupt) {
  TempDir dir;
  {
    auto journal = Journal::Open(dir.path());
    ASSERT_TRUE(journal.ok()) << journal.error().ToString();
    ASSERT_TRUE(journal->database().Exec("DROP TABLE steps").ok());
  }
  auto journal = Journal::Open(dir.path());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().code(), ErrorCode::kStateCorrupt);
  EXPECT_NE(journal.error().context().find("'steps' is missing"), std::string::npos)
      << journal.error().context();
}

TEST(JournalSchemaTest, DamagedPageIsStateCorrupt) {
  TempDir dir;
  const std::string path = Journal::PathFor(dir.path());
  {
    auto journal = Journal::Open(dir.path());
    ASSERT_TRUE(journal.ok()) << journal.error().ToString();
    for (int i = 0; i < 50; ++i) {
      auto id = journal->BeginTransaction("apply", {{"i", i}}, 1);
      ASSERT_TRUE(id.ok());
      StepSpec spec{"file", "file /x" + std::to_string(i), {{"path", "/x"}}};
      ASSERT_TRUE(journal->InsertIntendedStep(*id, 1, spec, {{"exists", false}}).ok());
    }
    // Move everything from the WAL into the main file, so the damage below hits live pages.
    ASSERT_TRUE(journal->database().Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  const auto size =
      std::filesystem::file_size(std::filesystem::path(std::u8string(path.begin(), path.end())));
  ASSERT_GT(size, 4096u * 3);
  {
    // Overwrite pages 2.. (the tables' b-trees) but keep the header page intact, so that SQLite
    // opens the file and only the integrity check can tell.
    std::fstream f(std::filesystem::path(std::u8string(path.begin(), path.end())),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    std::string junk(static_cast<size_t>(size) - 4096, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto journal = Journal::Open(dir.path());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().code(), ErrorCode::kStateCorrupt) << journal.error().ToString();
  EXPECT_NE(journal.error().context().find(path), std::string::npos) << journal.error().context();
}

TEST(JournalSchemaTest, ReadOnlyOpen) {
  TempDir dir;
  JournalOptions ro;
  ro.read_only = true;
  auto missing = Journal::Open(dir.path(), ro);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << missing.error().ToString();
  EXPECT_FALSE(journal_test::Exists(Journal::PathFor(dir.path())));  // not created

  {
    auto journal = Journal::Open(dir.path());
    ASSERT_TRUE(journal.ok());
    ASSERT_TRUE(journal->BeginTransaction("apply", nlohmann::json::object(), 0).ok());
  }
  auto reader = Journal::Open(dir.path(), ro);
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  auto txns = reader->ListTransactions();
  ASSERT_TRUE(txns.ok());
  EXPECT_EQ(txns->size(), 1u);
  EXPECT_FALSE(reader->BeginTransaction("apply", nlohmann::json::object(), 0).ok());
}

TEST(JournalSchemaTest, MissingStateFolderIsNotFound) {
  TempDir dir;
  auto journal = Journal::Open(dir.Sub("does-not-exist"));
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().code(), ErrorCode::kNotFound);
}

TEST(JournalSchemaTest, MigrationsAreContiguous) {
  int expected = 1;
  for (const auto& m : journal_schema::Migrations()) {
    EXPECT_EQ(m.version, expected++);
    EXPECT_FALSE(m.sql.empty());
  }
  EXPECT_EQ(journal_schema::LatestVersion(), expected - 1);
}

}  // namespace
}  // namespace stockade::provision
