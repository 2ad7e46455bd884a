#include "provision/journal/journal.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "provision/journal/schema.h"

namespace stockade::provision {
namespace {

// SQLite writes every timestamp, so that all rows share one clock and one format.
constexpr char kNow[] = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

constexpr char kStepColumns[] =
    "s.txn_id, s.seq, s.kind, s.target, s.params, s.before, s.state, COALESCE(s.error, ''), "
    "s.intended_at, COALESCE(s.applied_at, ''), COALESCE(s.undo_intended_at, ''), "
    "COALESCE(s.undone_at, ''), s.undo_txn";

constexpr char kTxnColumns[] =
    "id, kind, args, state, planned_steps, rollback_of, started_at, COALESCE(ended_at, ''), "
    "COALESCE(error, '')";

// SQLite's primary result codes for "this file is not (or no longer) a sane database".
constexpr std::int64_t kSqliteCorrupt = 11;
constexpr std::int64_t kSqliteNotADb = 26;

bool IsCorruption(const Error& error) {
  if (error.code() == ErrorCode::kStateCorrupt) return true;
  if (error.os_kind() != OsErrorKind::kSqlite) return false;
  const std::int64_t primary = error.os_error() & 0xff;
  return primary == kSqliteCorrupt || primary == kSqliteNotADb;
}

// Every failure while opening names the journal; damage becomes kStateCorrupt whatever code the
// layer below chose, so callers need to check only one code.
Error OpenError(const std::string& path, const Error& error) {
  if (IsCorruption(error)) {
    return Error(ErrorCode::kStateCorrupt,
                 "provisioning journal " + path + " is corrupted or is not a Stockade journal (" +
                     error.context() +
                     "); move it aside to start afresh, knowing that whatever "
                     "it recorded can then no longer be rolled back",
                 error.os_kind(), error.os_error());
  }
  return error.Wrap("opening provisioning journal " + path);
}

Expected<std::string> DumpJson(const nlohmann::json& value, std::string_view what) {
  try {
    return value.dump();
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(what) + " cannot be stored as JSON: " + e.what());
  }
}

Expected<nlohmann::json> ParseJson(const std::string& text, const std::string& path,
                                   std::string_view what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kStateCorrupt, "provisioning journal " + path + ": " +
                                               std::string(what) +
                                               " is not valid JSON: " + e.what());
  }
}

Expected<TxnState> ParseTxnState(std::string_view name) {
  for (TxnState s :
       {TxnState::kOpen, TxnState::kCommitted, TxnState::kRolledBack, TxnState::kFailed}) {
    if (TxnStateName(s) == name) return s;
  }
  return Error(ErrorCode::kStateCorrupt, "unknown transaction state '" + std::string(name) + "'");
}

Expected<StepState> ParseStepState(std::string_view name) {
  for (StepState s : {StepState::kIntended, StepState::kApplied, StepState::kUndoIntended,
                      StepState::kUndone, StepState::kFailed}) {
    if (StepStateName(s) == name) return s;
  }
  return Error(ErrorCode::kStateCorrupt, "unknown step state '" + std::string(name) + "'");
}

Expected<std::int64_t> QueryInt(sqlite::Database& db, std::string_view sql) {
  auto stmt = db.Prepare(sql);
  if (!stmt) return stmt.error();
  auto row = stmt->Step();
  if (!row) return row.error();
  if (!*row) return Error(ErrorCode::kInternal, std::string(sql) + " returned no row");
  return stmt->Int(0);
}

}  // namespace

std::string_view TxnStateName(TxnState state) {
  switch (state) {
    case TxnState::kOpen:
      return "open";
    case TxnState::kCommitted:
      return "committed";
    case TxnState::kRolledBack:
      return "rolled_back";
    case TxnState::kFailed:
      return "failed";
  }
  return "?";
}

std::string_view StepStateName(StepState state) {
  switch (state) {
    case StepState::kIntended:
      return "intended";
    case StepState::kApplied:
      return "applied";
    case StepState::kUndoIntended:
      return "undo_intended";
    case StepState::kUndone:
      return "undone";
    case StepState::kFailed:
      return "failed";
  }
  return "?";
}

std::string Journal::PathFor(const std::string& state_dir) {
  if (!state_dir.empty() && (state_dir.back() == '/' || state_dir.back() == '\\')) {
    return state_dir + "journal.db";
  }
  return state_dir + "/journal.db";
}

Expected<Journal> Journal::Open(const std::string& state_dir, const JournalOptions& options) {
  const std::string path = PathFor(state_dir);
  {
    std::error_code ec;
    const std::filesystem::path dir(reinterpret_cast<const char8_t*>(state_dir.c_str()));
    if (!std::filesystem::is_directory(dir, ec)) {
      return Error(ErrorCode::kNotFound,
                   "state folder " + state_dir + " of the provisioning journal does not exist");
    }
  }

  sqlite::OpenOptions open;
  open.create = !options.read_only;
  open.read_only = options.read_only;
  open.wal = true;
  // Durability before each OS change is the journal's whole point: FULL syncs the WAL on
  // every commit, so an "intended" row is on disk before the change it announces.
  open.synchronous = sqlite::Synchronous::kFull;
  open.busy_timeout_ms = options.busy_timeout_ms;
  open.foreign_keys = true;
  auto db = sqlite::Database::Open(path, open);
  if (!db) {
    if (db.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kNotFound,
                   "provisioning journal " + path + " does not exist (nothing was provisioned)");
    }
    return OpenError(path, db.error());
  }

  auto app_id = QueryInt(*db, "PRAGMA application_id");
  if (!app_id) return OpenError(path, app_id.error());
  auto version = db->UserVersion();
  if (!version) return OpenError(path, version.error());
  auto tables =
      QueryInt(*db,
               "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
               "'sqlite_%'");
  if (!tables) return OpenError(path, tables.error());

  const bool fresh = *app_id == 0 && *version == 0 && *tables == 0;
  if (!fresh && *app_id != journal_schema::kApplicationId) {
    return Error(ErrorCode::kStateCorrupt,
                 "provisioning journal " + path +
                     " is an SQLite database but not a Stockade journal (application_id " +
                     std::to_string(*app_id) + ", " + std::to_string(*tables) +
                     " tables); refusing to use or change it");
  }
  const int latest = journal_schema::LatestVersion();
  if (*version > latest) {
    return Error(ErrorCode::kStateTooNew,
                 "provisioning journal " + path + " has schema version " +
                     std::to_string(*version) + ", newer than the version " +
                     std::to_string(latest) +
                     " this Stockade understands: it was written by a newer Stockade; use that "
                     "version (or newer) to read, roll back or uninstall");
  }
  if (!fresh) {
    if (Status integrity = db->CheckIntegrity(); !integrity.ok()) {
      return Error(ErrorCode::kStateCorrupt,
                   "provisioning journal " + path +
                       " failed its integrity check: " + integrity.error().context(),
                   integrity.error().os_kind(), integrity.error().os_error());
    }
  }

  if (*version < latest) {
    if (options.read_only) {
      return Error(ErrorCode::kUnsupported,
                   "provisioning journal " + path + " has schema version " +
                       std::to_string(*version) + " and needs migrating to " +
                       std::to_string(latest) +
                       ", which a read-only open cannot do; run a stockade-provision command "
                       "that changes the system (it migrates the journal first)");
    }
    for (const journal_schema::Migration& migration : journal_schema::Migrations()) {
      if (migration.version <= *version) continue;
      auto txn = sqlite::Transaction::Begin(*db, sqlite::TransactionMode::kExclusive);
      if (!txn) return OpenError(path, txn.error());
      Status status = db->Exec(migration.sql);
      if (status.ok()) {
        status =
            db->Exec("PRAGMA application_id = " + std::to_string(journal_schema::kApplicationId));
      }
      if (status.ok()) status = db->SetUserVersion(migration.version);
      if (status.ok()) status = txn->Commit();
      if (!status.ok()) {
        return status.error().Wrap("migrating provisioning journal " + path + " to schema " +
                                   std::to_string(migration.version));
      }
    }
    version = latest;
  }

  for (const char* table : {"transactions", "steps"}) {
    auto stmt = db->Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    if (!stmt) return OpenError(path, stmt.error());
    STOCKADE_RETURN_IF_ERROR(stmt->Bind(1, table));
    auto row = stmt->Step();
    if (!row) return OpenError(path, row.error());
    if (!*row || stmt->Int(0) != 1) {
      return Error(ErrorCode::kStateCorrupt,
                   "provisioning journal " + path + " claims schema version " +
                       std::to_string(*version) + " but its table '" + table + "' is missing");
    }
  }
  return Journal(std::move(*db), *version);
}

Error Journal::CorruptRow(std::string_view what) const {
  return Error(ErrorCode::kStateCorrupt,
               "provisioning journal " + path() + ": " + std::string(what));
}

// --- Writes ------------------------------------------------------------------------------------

Expected<std::int64_t> Journal::BeginTransaction(std::string_view kind, const nlohmann::json& args,
                                                 int planned_steps,
                                                 std::optional<std::int64_t> rollback_of) {
  auto args_text = DumpJson(args, "transaction arguments");
  if (!args_text) return args_text.error();
  auto stmt = db_.Prepare(
      std::string("INSERT INTO transactions (kind, args, state, planned_steps, rollback_of, "
                  "started_at) VALUES (?, ?, 'open', ?, ?, ") +
      kNow + ")");
  if (!stmt) return stmt.error();
  STOCKADE_RETURN_IF_ERROR(stmt->BindAll(kind, *args_text, planned_steps, rollback_of));
  if (Status s = stmt->Run(); !s.ok()) {
    return s.error().Wrap("journaling a new " + std::string(kind) + " transaction");
  }
  return db_.LastInsertRowId();
}

Status Journal::FinishTransaction(std::int64_t txn_id, TxnState state, std::string_view error) {
  auto stmt = db_.Prepare(std::string("UPDATE transactions SET state = ?, ended_at = ") + kNow +
                          ", error = ? WHERE id = ?");
  if (!stmt) return stmt.error();
  std::optional<std::string> error_text;
  if (!error.empty()) error_text = std::string(error);
  STOCKADE_RETURN_IF_ERROR(stmt->BindAll(TxnStateName(state), error_text, txn_id));
  if (Status s = stmt->Run(); !s.ok()) {
    return s.error().Wrap("journaling transaction " + std::to_string(txn_id) + " as " +
                          std::string(TxnStateName(state)));
  }
  if (db_.Changes() != 1) {
    return Error(ErrorCode::kInternal, "journal has no transaction " + std::to_string(txn_id));
  }
  return OkStatus();
}

Status Journal::FinishRollback(std::int64_t rollback_txn_id, std::int64_t target_txn_id) {
  auto txn = sqlite::Transaction::Begin(db_);
  if (!txn) return txn.error();
  for (auto [id, state] :
       {std::pair{rollback_txn_id, "committed"}, std::pair{target_txn_id, "rolled_back"}}) {
    auto stmt = db_.Prepare(std::string("UPDATE transactions SET state = ?, ended_at = ") + kNow +
                            " WHERE id = ?");
    if (!stmt) return stmt.error();
    STOCKADE_RETURN_IF_ERROR(stmt->BindAll(state, id));
    STOCKADE_RETURN_IF_ERROR(stmt->Run());
    if (db_.Changes() != 1) {
      return Error(ErrorCode::kInternal, "journal has no transaction " + std::to_string(id));
    }
  }
  if (Status s = txn->Commit(); !s.ok()) {
    return s.error().Wrap("journaling the end of rollback transaction " +
                          std::to_string(rollback_txn_id));
  }
  return OkStatus();
}

Status Journal::InsertIntendedStep(std::int64_t txn_id, int seq, const StepSpec& spec,
                                   const nlohmann::json& before) {
  auto params = DumpJson(spec.params, "params of " + spec.target);
  if (!params) return params.error();
  auto before_text = DumpJson(before, "before-state of " + spec.target);
  if (!before_text) return before_text.error();
  auto stmt = db_.Prepare(
      std::string("INSERT INTO steps (txn_id, seq, kind, target, params, before, state, "
                  "intended_at) VALUES (?, ?, ?, ?, ?, ?, 'intended', ") +
      kNow + ")");
  if (!stmt) return stmt.error();
  STOCKADE_RETURN_IF_ERROR(
      stmt->BindAll(txn_id, seq, spec.kind, spec.target, *params, *before_text));
  if (Status s = stmt->Run(); !s.ok()) {
    return s.error().Wrap("journaling step " + std::to_string(seq) + " (" + spec.target +
                          ") of transaction " + std::to_string(txn_id) + " as intended");
  }
  return OkStatus();
}

Status Journal::UpdateStep(std::int64_t txn_id, int seq, std::string_view what,
                           std::string_view set_clause, std::optional<std::int64_t> extra_int,
                           std::optional<std::string> extra_text) {
  auto stmt =
      db_.Prepare("UPDATE steps SET " + std::string(set_clause) + " WHERE txn_id = ? AND seq = ?");
  if (!stmt) return stmt.error();
  int index = 0;
  if (extra_int) STOCKADE_RETURN_IF_ERROR(stmt->Bind(++index, *extra_int));
  if (extra_text) STOCKADE_RETURN_IF_ERROR(stmt->Bind(++index, *extra_text));
  STOCKADE_RETURN_IF_ERROR(stmt->Bind(++index, txn_id));
  STOCKADE_RETURN_IF_ERROR(stmt->Bind(++index, seq));
  if (Status s = stmt->Run(); !s.ok()) {
    return s.error().Wrap("journaling step " + std::to_string(seq) + " of transaction " +
                          std::to_string(txn_id) + " as " + std::string(what));
  }
  if (db_.Changes() != 1) {
    return Error(ErrorCode::kInternal, "journal has no step " + std::to_string(seq) +
                                           " in transaction " + std::to_string(txn_id));
  }
  return OkStatus();
}

Status Journal::MarkStepApplied(std::int64_t txn_id, int seq) {
  return UpdateStep(txn_id, seq, "applied",
                    std::string("state = 'applied', error = NULL, applied_at = ") + kNow,
                    std::nullopt, std::nullopt);
}

Status Journal::MarkStepUndoIntended(std::int64_t txn_id, int seq, std::int64_t undo_txn_id) {
  return UpdateStep(
      txn_id, seq, "undo_intended",
      std::string("undo_txn = ?, state = 'undo_intended', undo_intended_at = ") + kNow, undo_txn_id,
      std::nullopt);
}

Status Journal::MarkStepUndone(std::int64_t txn_id, int seq) {
  return UpdateStep(txn_id, seq, "undone", std::string("state = 'undone', undone_at = ") + kNow,
                    std::nullopt, std::nullopt);
}

Status Journal::MarkStepFailed(std::int64_t txn_id, int seq, std::string_view error) {
  return UpdateStep(txn_id, seq, "failed", "error = ?, state = 'failed'", std::nullopt,
                    std::string(error));
}

// --- Queries -----------------------------------------------------------------------------------

Expected<std::vector<TransactionRecord>> Journal::QueryTransactions(
    std::string_view where, std::optional<std::int64_t> id) {
  auto stmt = db_.Prepare(std::string("SELECT ") + kTxnColumns + " FROM transactions " +
                          std::string(where) + " ORDER BY id DESC");
  if (!stmt) return stmt.error();
  if (id) STOCKADE_RETURN_IF_ERROR(stmt->Bind(1, *id));
  std::vector<TransactionRecord> out;
  while (true) {
    auto row = stmt->Step();
    if (!row) return row.error().Wrap("reading transactions from " + path());
    if (!*row) break;
    TransactionRecord r;
    r.id = stmt->Int(0);
    r.kind = stmt->Text(1);
    const std::string label = "transaction " + std::to_string(r.id);
    auto args = ParseJson(stmt->Text(2), path(), label + " args");
    if (!args) return args.error();
    r.args = std::move(*args);
    auto state = ParseTxnState(stmt->Text(3));
    if (!state) return CorruptRow(label + ": " + state.error().context());
    r.state = *state;
    r.planned_steps = static_cast<int>(stmt->Int(4));
    if (!stmt->IsNull(5)) r.rollback_of = stmt->Int(5);
    r.started_at = stmt->Text(6);
    r.ended_at = stmt->Text(7);
    r.error = stmt->Text(8);
    out.push_back(std::move(r));
  }
  return out;
}

Expected<std::vector<TransactionRecord>> Journal::ListTransactions() {
  return QueryTransactions("", std::nullopt);
}

Expected<TransactionRecord> Journal::GetTransaction(std::int64_t txn_id) {
  auto rows = QueryTransactions("WHERE id = ?", txn_id);
  if (!rows) return rows.error();
  if (rows->empty()) {
    return Error(ErrorCode::kNotFound, "provisioning journal " + path() + " has no transaction " +
                                           std::to_string(txn_id));
  }
  return std::move(rows->front());
}

Expected<std::vector<TransactionRecord>> Journal::OpenTransactions() {
  return QueryTransactions("WHERE state = 'open'", std::nullopt);
}

Expected<std::vector<StepRecord>> Journal::QuerySteps(std::string_view sql,
                                                      const std::vector<std::string>& text_args,
                                                      std::optional<std::int64_t> id) {
  auto stmt = db_.Prepare(sql);
  if (!stmt) return stmt.error();
  int index = 0;
  for (const std::string& arg : text_args) STOCKADE_RETURN_IF_ERROR(stmt->Bind(++index, arg));
  if (id) STOCKADE_RETURN_IF_ERROR(stmt->Bind(++index, *id));
  std::vector<StepRecord> out;
  while (true) {
    auto row = stmt->Step();
    if (!row) return row.error().Wrap("reading steps from " + path());
    if (!*row) break;
    StepRecord r;
    r.txn_id = stmt->Int(0);
    r.seq = static_cast<int>(stmt->Int(1));
    r.spec.kind = stmt->Text(2);
    r.spec.target = stmt->Text(3);
    const std::string label =
        "step " + std::to_string(r.seq) + " of transaction " + std::to_string(r.txn_id);
    auto params = ParseJson(stmt->Text(4), path(), label + " params");
    if (!params) return params.error();
    r.spec.params = std::move(*params);
    auto before = ParseJson(stmt->Text(5), path(), label + " before-state");
    if (!before) return before.error();
    r.before = std::move(*before);
    auto state = ParseStepState(stmt->Text(6));
    if (!state) return CorruptRow(label + ": " + state.error().context());
    r.state = *state;
    r.error = stmt->Text(7);
    r.intended_at = stmt->Text(8);
    r.applied_at = stmt->Text(9);
    r.undo_intended_at = stmt->Text(10);
    r.undone_at = stmt->Text(11);
    if (!stmt->IsNull(12)) r.undo_txn = stmt->Int(12);
    out.push_back(std::move(r));
  }
  return out;
}

Expected<std::vector<StepRecord>> Journal::Steps(std::int64_t txn_id) {
  return QuerySteps(
      std::string("SELECT ") + kStepColumns + " FROM steps s WHERE s.txn_id = ? ORDER BY s.seq", {},
      txn_id);
}

namespace {
constexpr char kLiveWhere[] =
    " FROM steps s JOIN transactions t ON t.id = s.txn_id WHERE t.state = 'committed' AND "
    "s.state IN ('applied', 'undo_intended', 'failed')";
constexpr char kUnresolvedWhere[] =
    " FROM steps s JOIN transactions t ON t.id = s.txn_id WHERE t.state = 'failed' AND "
    "s.state <> 'undone'";
}  // namespace

Expected<std::vector<StepRecord>> Journal::LiveSteps() {
  return QuerySteps(
      std::string("SELECT ") + kStepColumns + kLiveWhere + " ORDER BY s.txn_id, s.seq", {},
      std::nullopt);
}

Expected<std::optional<StepRecord>> Journal::FindLiveStep(std::string_view kind,
                                                          std::string_view target) {
  auto rows = QuerySteps(std::string("SELECT ") + kStepColumns + kLiveWhere +
                             " AND s.kind = ? AND s.target = ? ORDER BY s.txn_id DESC, s.seq "
                             "DESC LIMIT 1",
                         {std::string(kind), std::string(target)}, std::nullopt);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<StepRecord>();
  return std::optional<StepRecord>(std::move(rows->front()));
}

Expected<std::vector<StepRecord>> Journal::UnresolvedSteps() {
  return QuerySteps(
      std::string("SELECT ") + kStepColumns + kUnresolvedWhere + " ORDER BY s.txn_id, s.seq", {},
      std::nullopt);
}

Expected<std::optional<StepRecord>> Journal::FindUnresolvedStep(std::string_view kind,
                                                                std::string_view target) {
  auto rows = QuerySteps(std::string("SELECT ") + kStepColumns + kUnresolvedWhere +
                             " AND s.kind = ? AND s.target = ? ORDER BY s.txn_id DESC, s.seq "
                             "DESC LIMIT 1",
                         {std::string(kind), std::string(target)}, std::nullopt);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<StepRecord>();
  return std::optional<StepRecord>(std::move(rows->front()));
}

}  // namespace stockade::provision
