// RAII wrapper over SQLite: a connection, prepared statements and transactions, with every
// failure turned into a stockade::Error carrying SQLite's extended result code and message.
// Used by the provisioning journal and the audit store.
#ifndef STOCKADE_CORE_SQLITE_DATABASE_H_
#define STOCKADE_CORE_SQLITE_DATABASE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace stockade::sqlite {

enum class Synchronous { kOff, kNormal, kFull, kExtra };

struct OpenOptions {
  bool create = true;          // create the file if missing (otherwise kNotFound)
  bool read_only = false;
  bool wal = true;             // journal_mode=WAL (ignored when read_only)
  Synchronous synchronous = Synchronous::kFull;
  int busy_timeout_ms = 5000;  // how long a writer waits for another writer's lock
  bool foreign_keys = true;
};

class Statement;

// One connection. Movable, not copyable; closes on destruction.
class Database {
 public:
  // Opens (or creates) the database at `path` with the given options.
  // Errors: kNotFound (missing and !create), kStateCorrupt (not a database file),
  // kDatabaseBusy (locked past the timeout), kDatabase (anything else).
  static Expected<Database> Open(const std::string& path, const OpenOptions& options = {});

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more statements that return no rows (DDL, PRAGMA, ...).
  Status Exec(std::string_view sql);

  // Compiles one statement. Contract: `sql` holds exactly one statement.
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

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Error LastError(std::string_view what) const;

  sqlite3* db_ = nullptr;
  std::string path_;
};

// A column value read from a row. Blob and text are copied out.
using Blob = std::vector<std::uint8_t>;

// A prepared statement. Bind indices are 1-based (SQLite's convention); column indices 0-based.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Status Bind(int index, std::int64_t value);
  Status Bind(int index, double value);
  Status Bind(int index, std::string_view text);
  Status Bind(int index, const Blob& blob);
  Status BindNull(int index);
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
  // Steps a statement that returns no rows; kInternal if it returns one.
  Status Run();
  // Resets for re-execution and clears bindings.
  Status Reset();

  bool IsNull(int column) const;
  std::int64_t Int(int column) const;
  double Real(int column) const;
  std::string Text(int column) const;
  Blob BlobValue(int column) const;
  int ColumnCount() const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  Error LastError(std::string_view what) const;

  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

enum class TransactionMode { kDeferred, kImmediate, kExclusive };

// A transaction that rolls back on destruction unless Commit() succeeded.
class Transaction {
 public:
  static Expected<Transaction> Begin(Database& db, TransactionMode mode = TransactionMode::kImmediate);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Status Commit();
  Status Rollback();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
  bool open_ = true;
};

}  // namespace stockade::sqlite

#endif  // STOCKADE_CORE_SQLITE_DATABASE_H_
