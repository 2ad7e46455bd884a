#include "core/sqlite/database.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/log/logging.h"

namespace stockade::sqlite {

namespace {

ErrorCode MapCode(int extended) {
  switch (extended & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kDatabaseBusy;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return ErrorCode::kStateCorrupt;
    default:
      return ErrorCode::kDatabase;
  }
}

std::string DbName(sqlite3* db) {
  const char* name = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  if (name == nullptr || *name == '\0') return ":memory:";
  return name;
}

// "<what> on <file>: <message>" with SQLite's extended code attached. `message` defaults to
// sqlite3_errmsg(), which describes the most recent failed call on this connection.
Error MakeError(sqlite3* db, int rc, std::string_view what, std::string_view file,
                const char* message = nullptr) {
  std::string context(what);
  context += " on ";
  context += file;
  context += ": ";
  if (message != nullptr) {
    context += message;
  } else if (db != nullptr) {
    context += sqlite3_errmsg(db);
  } else {
    context += sqlite3_errstr(rc);
  }
  return Error(MapCode(rc), std::move(context), OsErrorKind::kSqlite, rc);
}

// The SQL text quoted for an error context, shortened so a long statement does not drown the
// message.
std::string Quote(std::string_view sql) {
  constexpr std::size_t kMax = 100;
  std::string out = "`";
  out += sql.substr(0, kMax);
  if (sql.size() > kMax) out += "...";
  out += "`";
  return out;
}

bool IsMemoryPath(const std::string& path) { return path.empty() || path == ":memory:"; }

bool FileExists(const std::string& utf8_path) {
  std::error_code ec;
  return std::filesystem::exists(
      std::filesystem::path(std::u8string(utf8_path.begin(), utf8_path.end())), ec);
}

// Runs a PRAGMA and returns its first column as text (the read-back of a PRAGMA assignment).
Expected<std::string> PragmaText(sqlite3* db, const std::string& file, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr);
  if (rc != SQLITE_OK) return MakeError(db, rc, Quote(sql), file);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return MakeError(db, rc, Quote(sql), file);
  const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
  return text != nullptr ? std::string(reinterpret_cast<const char*>(text)) : std::string();
}

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Database

Expected<Database> Database::Open(const std::string& path, const OpenOptions& options) {
  int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (options.create && !options.read_only) flags |= SQLITE_OPEN_CREATE;
#ifdef SQLITE_OPEN_EXRESCODE
  flags |= SQLITE_OPEN_EXRESCODE;  // extended codes from the open call itself
#endif
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // sqlite3_open_v2 hands back a handle even on failure (for the message); close it always.
  std::unique_ptr<sqlite3, Closer> db(raw);
  if (rc != SQLITE_OK) {
    if ((rc & 0xFF) == SQLITE_CANTOPEN && (!options.create || options.read_only) &&
        !FileExists(path)) {
      return Error(ErrorCode::kNotFound, "open database " + path + ": no such file",
                   OsErrorKind::kSqlite, rc);
    }
    return MakeError(db.get(), rc, "open database", path);
  }
  sqlite3_extended_result_codes(db.get(), 1);
  // Set first: the statements below may already need to wait for another connection.
  sqlite3_busy_timeout(db.get(), std::max(0, options.busy_timeout_ms));

  // SQLite opens lazily; reading the schema reads the header, so a file that is not a database
  // (SQLITE_NOTADB) or is locked past the timeout fails here and not at the caller's first use.
  rc = sqlite3_exec(db.get(), "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return MakeError(db.get(), rc, "open database (read schema)", path);

  if (options.page_size > 0 && !options.read_only) {
    // Only takes effect while the file is still empty, i.e. before journal_mode=WAL below
    // writes the header; on an existing database SQLite ignores it.
    rc = sqlite3_exec(db.get(), ("PRAGMA page_size=" + std::to_string(options.page_size)).c_str(),
                      nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return MakeError(db.get(), rc, "open database (page_size)", path);
  }
  if (options.cache_size_kib > 0) {
    rc = sqlite3_exec(db.get(),
                      ("PRAGMA cache_size=-" + std::to_string(options.cache_size_kib)).c_str(),
                      nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return MakeError(db.get(), rc, "open database (cache_size)", path);
  }

  if (options.wal && !options.read_only && !IsMemoryPath(path)) {
    auto mode = PragmaText(db.get(), path, "PRAGMA journal_mode=WAL");
    if (!mode.ok()) return mode.error().Wrap("open database");
    std::string got = *mode;
    std::transform(got.begin(), got.end(), got.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (got != "wal") {
      // SQLite answers with the mode actually in force; it refuses WAL e.g. on file systems
      // without shared memory. Never carry on silently in another journal mode.
      return Error(
          ErrorCode::kDatabase,
          "open database on " + path + ": journal_mode=WAL not accepted (mode is '" + got + "')");
    }
  }

  const int sync_level = static_cast<int>(options.synchronous);  // OFF=0 NORMAL=1 FULL=2 EXTRA=3
  auto sync = PragmaText(db.get(), path, "PRAGMA synchronous=" + std::to_string(sync_level));
  if (!sync.ok()) return sync.error().Wrap("open database");
  sync = PragmaText(db.get(), path, "PRAGMA synchronous");
  if (!sync.ok()) return sync.error().Wrap("open database");
  if (*sync != std::to_string(sync_level)) {
    return Error(ErrorCode::kDatabase, "open database on " + path + ": synchronous=" +
                                           std::to_string(sync_level) + " reads back as " + *sync);
  }

  const char* fk_sql = options.foreign_keys ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF";
  auto fk = PragmaText(db.get(), path, fk_sql);
  if (!fk.ok()) return fk.error().Wrap("open database");
  fk = PragmaText(db.get(), path, "PRAGMA foreign_keys");
  if (!fk.ok()) return fk.error().Wrap("open database");
  if (*fk != (options.foreign_keys ? "1" : "0")) {
    return Error(ErrorCode::kDatabase,
                 "open database on " + path + ": foreign_keys reads back as " + *fk);
  }

  return Database(db.release(), path);
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Database::~Database() {
  // close_v2: if a Statement outlives its Database the connection lingers as a "zombie" until
  // that statement is finalized, instead of failing with SQLITE_BUSY and leaking.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Database::Exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec needs a terminated string
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return OkStatus();
  Error error = MakeError(db_, rc, Quote(sql), path_, message);
  sqlite3_free(message);
  return error;
}

Expected<Statement> Database::Prepare(std::string_view sql) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) {
    return Error(ErrorCode::kInvalidArgument, "prepare on " + path_ + ": statement too long");
  }
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  if (rc != SQLITE_OK) return MakeError(db_, rc, "prepare " + Quote(sql), path_);
  Statement stmt(raw, db_);
  if (raw == nullptr) {
    return Error(ErrorCode::kInvalidArgument,
                 "prepare " + Quote(sql) + " on " + path_ + ": no statement in the text");
  }
  // Anything after the first statement must compile to nothing (whitespace, comments), or the
  // caller passed several statements of which only the first would ever run.
  const char* end = sql.data() + sql.size();
  if (tail != nullptr && tail < end) {
    sqlite3_stmt* extra = nullptr;
    rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &extra, nullptr);
    sqlite3_finalize(extra);
    if (rc != SQLITE_OK || extra != nullptr) {
      return Error(ErrorCode::kInvalidArgument,
                   "prepare " + Quote(sql) + " on " + path_ +
                       ": text holds more than one statement (use Exec for scripts)");
    }
  }
  return stmt;
}

std::int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int Database::Changes() const { return sqlite3_changes(db_); }

Expected<int> Database::UserVersion() {
  auto stmt = Prepare("PRAGMA user_version");
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->Step();
  if (!row.ok()) return row.error();
  if (!*row) return Error(ErrorCode::kInternal, "PRAGMA user_version on " + path_ + ": no row");
  return static_cast<int>(stmt->Int(0));
}

Status Database::SetUserVersion(int version) {
  STOCKADE_RETURN_IF_ERROR(Exec("PRAGMA user_version = " + std::to_string(version)));
  auto now = UserVersion();
  if (!now.ok()) return now.error();
  if (*now != version) {
    return Error(ErrorCode::kVerificationFailed, "set user_version on " + path_ + ": wrote " +
                                                     std::to_string(version) + ", reads back as " +
                                                     std::to_string(*now));
  }
  return OkStatus();
}

Status Database::CheckIntegrity() {
  auto stmt = Prepare("PRAGMA integrity_check");
  if (!stmt.ok()) return stmt.error().Wrap("integrity check");
  std::vector<std::string> problems;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.error().Wrap("integrity check");
    if (!*row) break;
    std::string line = stmt->Text(0);
    if (line == "ok") continue;
    problems.push_back(std::move(line));
  }
  if (problems.empty()) return OkStatus();
  std::string context = "integrity check of " + path_ + ": " + problems.front();
  if (problems.size() > 1) {
    context += " (and " + std::to_string(problems.size() - 1) + " more problems)";
  }
  return Error(ErrorCode::kStateCorrupt, std::move(context));
}

bool Database::InTransaction() const { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(std::exchange(other.db_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    Finalize();
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Statement::~Statement() { Finalize(); }

void Statement::Finalize() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
  stmt_ = nullptr;
}

Error Statement::ErrorFor(int rc, std::string_view what) const {
  const char* sql = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  std::string where(what);
  if (sql != nullptr) where += " " + Quote(sql);
  return MakeError(db_, rc, where, DbName(db_));
}

Status Statement::Bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) return ErrorFor(rc, "bind parameter " + std::to_string(index) + " of");
  return OkStatus();
}

Status Statement::Bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) return ErrorFor(rc, "bind parameter " + std::to_string(index) + " of");
  return OkStatus();
}

Status Statement::Bind(int index, std::string_view text) {
  // bind_text64 with an explicit length: the view need not be terminated and may hold NULs.
  int rc =
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) return ErrorFor(rc, "bind parameter " + std::to_string(index) + " of");
  return OkStatus();
}

Status Statement::Bind(int index, const Blob& blob) {
  return BindBlob(index, std::span<const std::uint8_t>(blob.data(), blob.size()));
}

Status Statement::BindBlob(int index, std::span<const std::uint8_t> bytes) {
  // A zero-length blob must stay a blob, not NULL: bind_zeroblob for the empty case, because
  // bind_blob64 with a null pointer binds NULL.
  int rc = bytes.empty()
               ? sqlite3_bind_zeroblob(stmt_, index, 0)
               : sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return ErrorFor(rc, "bind parameter " + std::to_string(index) + " of");
  return OkStatus();
}

Status Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) return ErrorFor(rc, "bind parameter " + std::to_string(index) + " of");
  return OkStatus();
}

Expected<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error error = ErrorFor(rc, "step");
  // Reset releases the statement's locks now rather than at its next use.
  sqlite3_reset(stmt_);
  return error;
}

Status Statement::Run() {
  auto row = Step();
  if (!row.ok()) return row.error();
  const bool had_row = *row;
  sqlite3_reset(stmt_);
  if (had_row) {
    const char* sql = sqlite3_sql(stmt_);
    return Error(ErrorCode::kInternal, "run " + Quote(sql != nullptr ? sql : "") + " on " +
                                           DbName(db_) + ": statement returned a row");
  }
  return OkStatus();
}

Status Statement::Reset() {
  // sqlite3_reset() repeats the error of the last failed step, which Step() already reported;
  // resetting itself cannot fail.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return OkStatus();
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::Text(int column) const {
  // text before bytes: bytes then reports the length of the UTF-8 form just produced.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

Blob Statement::BlobValue(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  return Blob(bytes, bytes + size);
}

std::string_view Statement::TextView(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr || size <= 0) return {};
  return std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::span<const std::uint8_t> Statement::BlobView(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(data),
                                       static_cast<std::size_t>(size));
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

// ---------------------------------------------------------------------------------------------
// Transaction

Expected<Transaction> Transaction::Begin(Database& db, TransactionMode mode) {
  const char* sql = mode == TransactionMode::kDeferred    ? "BEGIN DEFERRED"
                    : mode == TransactionMode::kImmediate ? "BEGIN IMMEDIATE"
                                                          : "BEGIN EXCLUSIVE";
  int rc = sqlite3_exec(db.handle(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return MakeError(db.handle(), rc, sql, db.path());
  return Transaction(db.handle());
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), open_(std::exchange(other.open_, false)) {}

Transaction::~Transaction() {
  if (!open_) return;
  Status status = Rollback();
  if (!status.ok()) {
    log::Logger()->error("transaction rollback on destruction failed: {}",
                         status.error().ToString());
  }
}

Status Transaction::Commit() {
  if (!open_) {
    return Error(ErrorCode::kInternal, "COMMIT on " + DbName(db_) + ": transaction not open");
  }
  int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) {
    open_ = false;
    return OkStatus();
  }
  Error error = MakeError(db_, rc, "COMMIT", DbName(db_));
  // Some errors make SQLite roll back by itself; then there is nothing left to roll back.
  if (sqlite3_get_autocommit(db_) != 0) open_ = false;
  return error;
}

Status Transaction::Rollback() {
  if (!open_) {
    return Error(ErrorCode::kInternal, "ROLLBACK on " + DbName(db_) + ": transaction not open");
  }
  if (sqlite3_get_autocommit(db_) != 0) {  // already rolled back by SQLite after an error
    open_ = false;
    return OkStatus();
  }
  int rc = sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK && sqlite3_get_autocommit(db_) == 0) {
    return MakeError(db_, rc, "ROLLBACK", DbName(db_));
  }
  open_ = false;
  return OkStatus();
}

}  // namespace stockade::sqlite
