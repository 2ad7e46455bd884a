// RAII wrapper over SQLite: a connection, prepared statements and transactions, with every
// failure turned into a stockade::Error carrying SQLite's extended result code and message.
// Used by the provisioning journal and the audit store.
#ifndef STOCKADE_CORE_SQLITE_DATABASE_H_
#define STOCKADE_CORE_SQLITE_DATABASE_H_

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace stockade::sqlite {

enum class Synchronous { kOff, kNormal, kFull, kExtra };

struct OpenOptions {
  bool create = true;  // create the file if missing (otherwise, or read_only: kNotFound)
  bool read_only = false;
  bool wal = true;  // journal_mode=WAL (ignored when read_only)
  Synchronous synchronous = Synchronous::kFull;
  int busy_timeout_ms = 5000;  // how long a writer waits for another writer's lock
  bool foreign_keys = true;
  // PRAGMA page_size for a database created by this Open (set before anything is written; an
  // existing file keeps its own). 0 = SQLite's default. A power of two from 512 to 65536.
  int page_size = 0;
  // PRAGMA cache_size in KiB for this connection. 0 = SQLite's default (2 MiB).
  int cache_size_kib = 0;
};

class Statement;

// Error mapping shared by every call below. Each Error carries OsErrorKind::kSqlite with SQLite's
// extended result code as os_error, and a context "<what> on <db file>: <sqlite3_errmsg>":
//   SQLITE_BUSY, SQLITE_LOCKED        -> kDatabaseBusy (another connection holds the lock past
//                                        the busy timeout)
//   SQLITE_NOTADB, SQLITE_CORRUPT     -> kStateCorrupt
//   anything else                     -> kDatabase
// Misuse detected by the wrapper itself (two statements given to Prepare, a row where none was
// expected) is kInvalidArgument / kInternal without an SQLite code.

// One connection. Movable, not copyable; closes on destruction. Not for concurrent use from
// several threads: open one connection per thread (SQLite serialises writers across them).
class Database {
 public:
  // Opens (or creates) the database at `path` (UTF-8; ":memory:" for a private in-memory
  // database) with the given options, applies them and reads each PRAGMA back (a journal mode
  // that did not switch to WAL is an error, not a silent fallback). The file's header is read
  // during Open, so a file that is not a database fails here.
  // Errors: kNotFound (missing and !create), kStateCorrupt (not a database file),
  // kDatabaseBusy (locked past the timeout), kDatabase (anything else).
  static Expected<Database> Open(const std::string& path, const OpenOptions& options = {});

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more statements (DDL, PRAGMA, ...); rows they return are discarded.
  Status Exec(std::string_view sql);

  // Compiles one statement. Contract: `sql` holds exactly one statement; more than one (other
  // than trailing whitespace or comments), or none, is kInvalidArgument.
  Expected<Statement> Prepare(std::string_view sql);

  // The rowid of the most recent successful INSERT on this connection.
  std::int64_t LastInsertRowId() const;
  // Rows changed by the most recent INSERT/UPDATE/DELETE.
  int Changes() const;

  // PRAGMA user_version: the schema version stamped by migrations.
  Expected<int> UserVersion();
  Status SetUserVersion(int version);

  // Runs PRAGMA integrity_check; kStateCorrupt names the first problem reported.
  Status CheckIntegrity();

  // True while a transaction is open on this connection (sqlite3_get_autocommit() == 0).
  bool InTransaction() const;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_ = nullptr;
  std::string path_;
};

// A column value read from a row. Blob and text are copied out.
using Blob = std::vector<std::uint8_t>;

// Integer types other than int64_t whose every value an int64 holds. uint64_t and size_t are
// deliberately not among them: values above INT64_MAX cannot be stored, so the caller must cast
// and decide.
template <typename T>
concept NarrowInteger = std::integral<T> && !std::is_same_v<T, std::int64_t> &&
                        (std::is_signed_v<T> || sizeof(T) < sizeof(std::int64_t));

// A prepared statement. Bind indices are 1-based (SQLite's convention); column indices 0-based.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binds a value; text and blobs are copied (SQLITE_TRANSIENT), so the argument may die
  // after the call. Errors: kDatabase with SQLITE_RANGE for an index the statement lacks.
  Status Bind(int index, std::int64_t value);
  Status Bind(int index, double value);
  Status Bind(int index, std::string_view text);
  Status Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Status Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
  Status Bind(int index, const Blob& blob);
  // A blob from any contiguous bytes (copied, like Bind), without building a Blob first.
  Status BindBlob(int index, std::span<const std::uint8_t> bytes);
  Status BindNull(int index);
  // Any other integer type that fits losslessly in an int64 (int, unsigned, bool, ...).
  // Without it Bind(1, 5) would be ambiguous between int64 and double.
  template <NarrowInteger T>
  Status Bind(int index, T value) {
    return Bind(index, static_cast<std::int64_t>(value));
  }
  // std::nullopt binds NULL, otherwise the value.
  template <typename T>
  Status Bind(int index, const std::optional<T>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }
  Status Bind(int index, std::nullptr_t) { return BindNull(index); }
  // Binds every argument in order from index 1.
  template <typename... Args>
  Status BindAll(const Args&... args) {
    int index = 0;
    Status status;
    ((status.ok() ? (status = Bind(++index, args), 0) : 0), ...);
    return status;
  }

  // Advances to the next row. Returns true when a row is available, false when done.
  Expected<bool> Step();
  // Steps a statement that returns no rows; kInternal if it returns one. Afterwards the
  // statement is reset (bindings kept), so it can be re-bound and run again in a loop.
  Status Run();
  // Resets for re-execution and clears bindings.
  Status Reset();

  // Column accessors for the current row (after Step() returned true). Contract: `column` is
  // in [0, ColumnCount()). SQLite's type conversions apply (e.g. Int() of NULL is 0).
  bool IsNull(int column) const;
  std::int64_t Int(int column) const;
  double Real(int column) const;
  std::string Text(int column) const;
  Blob BlobValue(int column) const;
  // Views of the current row's text / blob without copying (for scans over many rows). Valid
  // until the next Step(), Reset() or column access of another type on the same column.
  std::string_view TextView(int column) const;
  std::span<const std::uint8_t> BlobView(int column) const;
  int ColumnCount() const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  void Finalize();
  Error ErrorFor(int rc, std::string_view what) const;

  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

enum class TransactionMode { kDeferred, kImmediate, kExclusive };

// A transaction that rolls back on destruction unless Commit() succeeded. It holds the
// connection's sqlite3 handle, which stays valid when the Database object is moved; the
// Database must outlive the Transaction. Transactions do not nest (SQLite has no nested BEGIN).
class Transaction {
 public:
  // BEGIN DEFERRED/IMMEDIATE/EXCLUSIVE. kImmediate takes the write lock now, so a busy database
  // fails here (kDatabaseBusy after the busy timeout) rather than half way through the work.
  static Expected<Transaction> Begin(Database& db,
                                     TransactionMode mode = TransactionMode::kImmediate);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  // Rolls back if still open; a failure there is logged (a destructor cannot report it).
  ~Transaction();

  // COMMIT. On failure (e.g. kDatabaseBusy) the transaction stays open: retry Commit() or let
  // the destructor roll back. Contract: not called after a successful Commit() or Rollback().
  Status Commit();
  // ROLLBACK. Succeeds without doing anything if SQLite already rolled the transaction back by
  // itself (it does so after some errors, e.g. SQLITE_FULL).
  Status Rollback();
  bool open() const { return open_; }

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  bool open_ = true;
};

}  // namespace stockade::sqlite

#endif  // STOCKADE_CORE_SQLITE_DATABASE_H_
