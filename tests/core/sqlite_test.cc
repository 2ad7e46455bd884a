// Tests of the SQLite wrapper against what SQLite itself reports back: PRAGMA read-backs, files
// on disk, extended result codes, and the data seen from a second connection.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>

#include "core/crypto/random.h"
#include "core/sqlite/database.h"

namespace stockade::sqlite {
namespace {

namespace fs = std::filesystem;

fs::path Utf8Path(const std::string& s) { return fs::path(std::u8string(s.begin(), s.end())); }
std::string ToUtf8(const fs::path& p) {
  auto u8 = p.u8string();
  return std::string(u8.begin(), u8.end());
}

// A private folder under the system temp folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    auto suffix = crypto::RandomHex(8);
    EXPECT_TRUE(suffix.ok());
    path_ = fs::temp_directory_path() / ("stockade-sqlite-test-" + *suffix);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return ToUtf8(path_ / name); }

 private:
  fs::path path_;
};

Database OpenOrDie(const std::string& path, const OpenOptions& options = {}) {
  auto db = Database::Open(path, options);
  if (!db.ok()) ADD_FAILURE() << db.error().ToString();
  return std::move(db).value();
}

std::string PragmaText(Database& db, const std::string& sql) {
  auto stmt = db.Prepare(sql);
  EXPECT_TRUE(stmt.ok()) << stmt.error().ToString();
  auto row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  return stmt->Text(0);
}

std::int64_t CountRows(Database& db, const std::string& table) {
  auto stmt = db.Prepare("SELECT count(*) FROM " + table);
  EXPECT_TRUE(stmt.ok()) << stmt.error().ToString();
  auto row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row);
  return stmt->Int(0);
}

TEST(SqliteDatabase, OpenAppliesEveryOptionAndSqliteReportsItBack) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  OpenOptions options;
  options.busy_timeout_ms = 1234;
  Database db = OpenOrDie(path, options);
  EXPECT_EQ(db.path(), path);
  EXPECT_EQ(PragmaText(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(PragmaText(db, "PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(PragmaText(db, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(PragmaText(db, "PRAGMA busy_timeout"), "1234");
  ASSERT_TRUE(db.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)").ok());
  // WAL mode writes go to the -wal file beside the database, which SQLite keeps while open.
  EXPECT_TRUE(fs::exists(Utf8Path(path)));
  EXPECT_TRUE(fs::exists(Utf8Path(path + "-wal")));
  EXPECT_TRUE(fs::exists(Utf8Path(path + "-shm")));
}

TEST(SqliteDatabase, EverySynchronousLevelReadsBack) {
  TempDir dir;
  const Synchronous levels[] = {Synchronous::kOff, Synchronous::kNormal, Synchronous::kFull,
                                Synchronous::kExtra};
  for (int i = 0; i < 4; ++i) {
    OpenOptions options;
    options.synchronous = levels[i];
    Database db = OpenOrDie(dir.File("s.db"), options);
    EXPECT_EQ(PragmaText(db, "PRAGMA synchronous"), std::to_string(i));
  }
}

TEST(SqliteDatabase, WalCanBeTurnedOff) {
  TempDir dir;
  OpenOptions options;
  options.wal = false;
  Database db = OpenOrDie(dir.File("d.db"), options);
  EXPECT_EQ(PragmaText(db, "PRAGMA journal_mode"), "delete");
}

TEST(SqliteDatabase, MissingFileWithoutCreateIsNotFoundAndStaysMissing) {
  TempDir dir;
  const std::string path = dir.File("missing.db");
  OpenOptions options;
  options.create = false;
  auto db = Database::Open(path, options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code(), ErrorCode::kNotFound) << db.error().ToString();
  EXPECT_NE(db.error().context().find(path), std::string::npos);
  EXPECT_FALSE(fs::exists(Utf8Path(path)));

  OpenOptions read_only;
  read_only.read_only = true;
  auto ro = Database::Open(path, read_only);
  ASSERT_FALSE(ro.ok());
  EXPECT_EQ(ro.error().code(), ErrorCode::kNotFound) << ro.error().ToString();
}

TEST(SqliteDatabase, FileThatIsNotADatabaseIsStateCorrupt) {
  TempDir dir;
  const std::string path = dir.File("text.db");
  {
    std::ofstream out(Utf8Path(path), std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is a policy file, not a database\n";
  }
  auto db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code(), ErrorCode::kStateCorrupt) << db.error().ToString();
  EXPECT_EQ(db.error().os_kind(), OsErrorKind::kSqlite);
  EXPECT_EQ(db.error().os_error() & 0xFF, SQLITE_NOTADB);
  EXPECT_NE(db.error().context().find(path), std::string::npos);
  EXPECT_NE(db.error().context().find("not a database"), std::string::npos) << db.error().context();
}

TEST(SqliteDatabase, DamagedPagesFailTheIntegrityCheck) {
  TempDir dir;
  const std::string path = dir.File("damaged.db");
  {
    Database db = OpenOrDie(path);
    ASSERT_TRUE(db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
                        "CREATE INDEX t_v ON t(v);")
                    .ok());
    auto tx = Transaction::Begin(db);
    ASSERT_TRUE(tx.ok());
    auto insert = db.Prepare("INSERT INTO t(v) VALUES (?)");
    ASSERT_TRUE(insert.ok());
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(insert->Bind(1, "value number " + std::to_string(i)).ok());
      ASSERT_TRUE(insert->Run().ok());
    }
    ASSERT_TRUE(tx->Commit().ok());
    EXPECT_TRUE(db.CheckIntegrity().ok());
  }  // the last connection closing checkpoints the WAL into the main file
  const auto size = fs::file_size(Utf8Path(path));
  ASSERT_GT(size, 8u * 4096u);
  {
    // Keep page 1 (header and schema) intact; scribble over the middle of later pages.
    std::fstream file(Utf8Path(path), std::ios::in | std::ios::out | std::ios::binary);
    const std::string junk(600, '\x5A');
    for (std::uintmax_t page = 2; page * 4096 < size; page += 2) {
      file.seekp(static_cast<std::streamoff>(page * 4096 + 1000));
      file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  auto db = Database::Open(path);
  ASSERT_TRUE(db.ok()) << db.error().ToString();
  Status status = db->CheckIntegrity();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kStateCorrupt) << status.error().ToString();
  EXPECT_NE(status.error().context().find(path), std::string::npos);
}

TEST(SqliteDatabase, SecondWriterGetsDatabaseBusyAfterItsTimeout) {
  TempDir dir;
  const std::string path = dir.File("busy.db");
  Database a = OpenOrDie(path);
  ASSERT_TRUE(a.Exec("CREATE TABLE t(x)").ok());
  OpenOptions impatient;
  impatient.busy_timeout_ms = 300;
  Database b = OpenOrDie(path, impatient);

  auto held = Transaction::Begin(a);
  ASSERT_TRUE(held.ok()) << held.error().ToString();
  const auto start = std::chrono::steady_clock::now();
  auto blocked = Transaction::Begin(b);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code(), ErrorCode::kDatabaseBusy) << blocked.error().ToString();
  EXPECT_EQ(blocked.error().os_kind(), OsErrorKind::kSqlite);
  EXPECT_EQ(blocked.error().os_error() & 0xFF, SQLITE_BUSY);
  EXPECT_NE(blocked.error().context().find("BEGIN IMMEDIATE"), std::string::npos);
  // The busy handler really waited rather than failing at once.
  EXPECT_GE(waited, std::chrono::milliseconds(250));

  ASSERT_TRUE(held->Commit().ok());
  auto now_free = Transaction::Begin(b);
  EXPECT_TRUE(now_free.ok()) << now_free.error().ToString();
}

TEST(SqliteDatabase, StaleSnapshotWriteIsBusyWithItsExtendedCode) {
  TempDir dir;
  const std::string path = dir.File("snapshot.db");
  Database a = OpenOrDie(path);
  Database b = OpenOrDie(path);
  ASSERT_TRUE(a.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)").ok());
  auto reader = Transaction::Begin(a, TransactionMode::kDeferred);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(CountRows(a, "t"), 1);  // a now reads a snapshot
  ASSERT_TRUE(b.Exec("INSERT INTO t VALUES (2)").ok());
  // a cannot upgrade an out-of-date snapshot to a write: SQLITE_BUSY_SNAPSHOT.
  Status write = a.Exec("INSERT INTO t VALUES (3)");
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().code(), ErrorCode::kDatabaseBusy) << write.error().ToString();
  EXPECT_EQ(write.error().os_error(), SQLITE_BUSY_SNAPSHOT);
}

TEST(SqliteDatabase, ConstraintErrorCarriesExtendedCodeSqlAndMessage) {
  TempDir dir;
  Database db = OpenOrDie(dir.File("c.db"));
  ASSERT_TRUE(db.Exec("CREATE TABLE users(name TEXT UNIQUE)").ok());
  auto insert = db.Prepare("INSERT INTO users(name) VALUES (?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, "alice").ok());
  ASSERT_TRUE(insert->Run().ok());
  Status again = insert->Run();  // same binding: duplicate
  ASSERT_FALSE(again.ok());
  const Error& e = again.error();
  EXPECT_EQ(e.code(), ErrorCode::kDatabase);
  EXPECT_EQ(e.os_kind(), OsErrorKind::kSqlite);
  EXPECT_EQ(e.os_error(), SQLITE_CONSTRAINT_UNIQUE);
  EXPECT_NE(e.context().find("UNIQUE constraint failed: users.name"), std::string::npos)
      << e.context();
  EXPECT_NE(e.context().find("INSERT INTO users"), std::string::npos) << e.context();
  EXPECT_NE(e.ToString().find("sqlite code 2067"), std::string::npos) << e.ToString();
  EXPECT_EQ(CountRows(db, "users"), 1);
}

TEST(SqliteDatabase, ForeignKeysFollowTheOption) {
  TempDir dir;
  const char* schema =
      "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
      "CREATE TABLE child(parent_id INTEGER REFERENCES parent(id));";
  {
    Database db = OpenOrDie(dir.File("fk_on.db"));
    ASSERT_TRUE(db.Exec(schema).ok());
    Status orphan = db.Exec("INSERT INTO child VALUES (42)");
    ASSERT_FALSE(orphan.ok());
    EXPECT_EQ(orphan.error().os_error(), SQLITE_CONSTRAINT_FOREIGNKEY);
    EXPECT_EQ(CountRows(db, "child"), 0);
  }
  {
    OpenOptions options;
    options.foreign_keys = false;
    Database db = OpenOrDie(dir.File("fk_off.db"), options);
    EXPECT_EQ(PragmaText(db, "PRAGMA foreign_keys"), "0");
    ASSERT_TRUE(db.Exec(schema).ok());
    EXPECT_TRUE(db.Exec("INSERT INTO child VALUES (42)").ok());
    EXPECT_EQ(CountRows(db, "child"), 1);
  }
}

TEST(SqliteDatabase, PrepareAcceptsExactlyOneStatement) {
  Database db = OpenOrDie(":memory:");
  ASSERT_TRUE(db.Exec("CREATE TABLE t(x)").ok());
  EXPECT_TRUE(db.Prepare("SELECT x FROM t;  -- trailing comment\n  ").ok());

  auto two = db.Prepare("INSERT INTO t VALUES (1); DELETE FROM t");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CountRows(db, "t"), 0);  // nothing ran

  auto none = db.Prepare("  -- only a comment");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kInvalidArgument);

  auto bad = db.Prepare("SELEKT 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kDatabase);
  EXPECT_EQ(bad.error().os_error(), SQLITE_ERROR);
  EXPECT_NE(bad.error().context().find("syntax error"), std::string::npos) << bad.error().context();
}

TEST(SqliteStatement, EveryTypeRoundTrips) {
  Database db = OpenOrDie(":memory:");
  ASSERT_TRUE(db.Exec("CREATE TABLE v(i, r, t, b, n, small, flag, opt_some, opt_none)").ok());
  auto insert = db.Prepare("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ASSERT_TRUE(insert.ok());
  const std::string text("na\xC3\xAFve \0 with a NUL", 20);
  const Blob blob = {0x00, 0xFF, 0x10, 0x00};
  const std::int64_t big = std::numeric_limits<std::int64_t>::min();
  Status bound = insert->BindAll(big, 2.5, text, blob, nullptr, 7, true, std::optional<int>(9),
                                 std::optional<int>());
  ASSERT_TRUE(bound.ok()) << bound.error().ToString();
  ASSERT_TRUE(insert->Run().ok());
  ASSERT_TRUE(insert->Reset().ok());
  ASSERT_TRUE(insert
                  ->BindAll(std::numeric_limits<std::int64_t>::max(), -0.125, "", Blob{}, nullptr,
                            0u, false, std::optional<int>(), std::optional<int>())
                  .ok());
  ASSERT_TRUE(insert->Run().ok());

  auto select = db.Prepare(
      "SELECT i, r, t, b, n, small, flag, opt_some, opt_none, typeof(b)"
      " FROM v ORDER BY rowid");
  ASSERT_TRUE(select.ok());
  EXPECT_EQ(select->ColumnCount(), 10);
  auto row = select->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->Int(0), big);
  EXPECT_EQ(select->Real(1), 2.5);
  EXPECT_EQ(select->Text(2), text);
  EXPECT_EQ(select->BlobValue(3), blob);
  EXPECT_TRUE(select->IsNull(4));
  EXPECT_EQ(select->Int(5), 7);
  EXPECT_EQ(select->Int(6), 1);
  EXPECT_EQ(select->Int(7), 9);
  EXPECT_TRUE(select->IsNull(8));
  EXPECT_FALSE(select->IsNull(3));
  row = select->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->Int(0), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(select->Real(1), -0.125);
  EXPECT_EQ(select->Text(2), "");
  EXPECT_FALSE(select->IsNull(2));
  // An empty blob stays a blob, not NULL.
  EXPECT_FALSE(select->IsNull(3));
  EXPECT_EQ(select->Text(9), "blob");
  EXPECT_TRUE(select->BlobValue(3).empty());
  EXPECT_EQ(select->Int(6), 0);
  row = select->Step();
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
}

TEST(SqliteStatement, ResetClearsBindingsAndRunIsRepeatable) {
  Database db = OpenOrDie(":memory:");
  ASSERT_TRUE(db.Exec("CREATE TABLE t(x INTEGER)").ok());
  auto insert = db.Prepare("INSERT INTO t VALUES (?)");
  ASSERT_TRUE(insert.ok());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(insert->Bind(1, i).ok());
    ASSERT_TRUE(insert->Run().ok());
    EXPECT_EQ(db.LastInsertRowId(), i);
    EXPECT_EQ(db.Changes(), 1);
  }
  ASSERT_TRUE(insert->Reset().ok());
  ASSERT_TRUE(insert->Run().ok());  // cleared binding inserts NULL
  auto nulls = db.Prepare("SELECT count(*) FROM t WHERE x IS NULL");
  ASSERT_TRUE(nulls.ok());
  ASSERT_TRUE(*nulls->Step());
  EXPECT_EQ(nulls->Int(0), 1);
  EXPECT_EQ(CountRows(db, "t"), 4);
  ASSERT_TRUE(db.Exec("UPDATE t SET x = 0").ok());
  EXPECT_EQ(db.Changes(), 4);
}

TEST(SqliteStatement, RunOnAQueryThatReturnsRowsIsInternal) {
  Database db = OpenOrDie(":memory:");
  auto stmt = db.Prepare("SELECT 1");
  ASSERT_TRUE(stmt.ok());
  Status status = stmt->Run();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInternal);
}

TEST(SqliteStatement, BindingAMissingParameterIsRangeError) {
  Database db = OpenOrDie(":memory:");
  auto stmt = db.Prepare("SELECT ?");
  ASSERT_TRUE(stmt.ok());
  Status status = stmt->Bind(2, 1);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kDatabase);
  EXPECT_EQ(status.error().os_error(), SQLITE_RANGE);
  EXPECT_NE(status.error().context().find("parameter 2"), std::string::npos);
}

TEST(SqliteTransaction, RollsBackOnDestructionUnlessCommitted) {
  TempDir dir;
  const std::string path = dir.File("tx.db");
  Database db = OpenOrDie(path);
  Database other = OpenOrDie(path);
  ASSERT_TRUE(db.Exec("CREATE TABLE t(x)").ok());
  {
    auto tx = Transaction::Begin(db);
    ASSERT_TRUE(tx.ok());
    EXPECT_TRUE(db.InTransaction());
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES (1), (2)").ok());
    EXPECT_EQ(CountRows(db, "t"), 2);
    EXPECT_EQ(CountRows(other, "t"), 0);  // not visible before commit
  }
  EXPECT_FALSE(db.InTransaction());
  EXPECT_EQ(CountRows(db, "t"), 0);
  {
    auto tx = Transaction::Begin(db);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES (3)").ok());
    Transaction moved(std::move(*tx));  // ownership moves; the source must not roll back
    EXPECT_FALSE(tx->open());
    EXPECT_TRUE(moved.open());
    ASSERT_TRUE(moved.Commit().ok());
    EXPECT_FALSE(moved.open());
  }
  EXPECT_EQ(CountRows(other, "t"), 1);
  {
    auto tx = Transaction::Begin(db);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES (4)").ok());
    ASSERT_TRUE(tx->Rollback().ok());
    EXPECT_FALSE(tx->Commit().ok());  // nothing left to commit
  }
  EXPECT_EQ(CountRows(other, "t"), 1);
}

TEST(SqliteTransaction, DoesNotNest) {
  Database db = OpenOrDie(":memory:");
  auto outer = Transaction::Begin(db);
  ASSERT_TRUE(outer.ok());
  auto inner = Transaction::Begin(db);
  ASSERT_FALSE(inner.ok());
  EXPECT_EQ(inner.error().code(), ErrorCode::kDatabase);
  EXPECT_NE(inner.error().context().find("within a transaction"), std::string::npos)
      << inner.error().context();
  EXPECT_TRUE(outer->Commit().ok());
}

TEST(SqliteTransaction, SurvivesMovingTheDatabase) {
  TempDir dir;
  Database db = OpenOrDie(dir.File("m.db"));
  ASSERT_TRUE(db.Exec("CREATE TABLE t(x)").ok());
  auto tx = Transaction::Begin(db);
  ASSERT_TRUE(tx.ok());
  Database moved = std::move(db);
  ASSERT_TRUE(moved.Exec("INSERT INTO t VALUES (1)").ok());
  ASSERT_TRUE(tx->Commit().ok());
  EXPECT_EQ(CountRows(moved, "t"), 1);
}

TEST(SqliteDatabase, UserVersionPersists) {
  TempDir dir;
  const std::string path = dir.File("v.db");
  {
    Database db = OpenOrDie(path);
    auto version = db.UserVersion();
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(*version, 0);
    ASSERT_TRUE(db.SetUserVersion(7).ok());
  }
  Database db = OpenOrDie(path);
  EXPECT_EQ(*db.UserVersion(), 7);
  EXPECT_EQ(PragmaText(db, "PRAGMA user_version"), "7");
}

TEST(SqliteDatabase, ReadOnlyConnectionReadsButCannotWrite) {
  TempDir dir;
  const std::string path = dir.File("ro.db");
  {
    Database db = OpenOrDie(path);
    ASSERT_TRUE(db.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)").ok());
  }
  OpenOptions options;
  options.read_only = true;
  Database db = OpenOrDie(path, options);
  EXPECT_EQ(CountRows(db, "t"), 1);
  Status write = db.Exec("INSERT INTO t VALUES (2)");
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().code(), ErrorCode::kDatabase);
  EXPECT_EQ(write.error().os_error() & 0xFF, SQLITE_READONLY);
  EXPECT_EQ(CountRows(db, "t"), 1);
}

}  // namespace
}  // namespace stockade::sqlite
