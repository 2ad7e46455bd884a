// The provisioning journal: transactions and their ordered steps in SQLite (<state_dir>/journal.db,
// WAL, synchronous=FULL), so that every OS change is on disk as *intended* before it is made and
// can be undone, resumed or rolled forward by a later process. docs/journal.md describes the
// protocol; the executor (provision/executor.h) is the only writer, under the provision lock.
//
// Every write method below is one durable SQLite commit: when it returns OK the row survives a
// crash of the process (and, with synchronous=FULL, of the machine).
#ifndef STOCKADE_PROVISION_JOURNAL_JOURNAL_H_
#define STOCKADE_PROVISION_JOURNAL_JOURNAL_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/sqlite/database.h"
#include "provision/step.h"

namespace stockade::provision {

// Transaction kinds the product uses (the column is free text so that new commands need no
// migration).
namespace txn_kind {
inline constexpr char kApply[] = "apply";
inline constexpr char kGrant[] = "grant";
inline constexpr char kRevoke[] = "revoke";
inline constexpr char kRepair[] = "repair";
inline constexpr char kRollback[] = "rollback";
inline constexpr char kUninstall[] = "uninstall";
}  // namespace txn_kind

enum class TxnState { kOpen, kCommitted, kRolledBack, kFailed };
enum class StepState { kIntended, kApplied, kUndoIntended, kUndone, kFailed };

// Stable names as stored in the journal: "open", "committed", "rolled_back", "failed";
// "intended", "applied", "undo_intended", "undone", "failed".
std::string_view TxnStateName(TxnState state);
std::string_view StepStateName(StepState state);

struct TransactionRecord {
  std::int64_t id = 0;
  std::string kind;
  nlohmann::json args = nlohmann::json::object();
  TxnState state = TxnState::kOpen;
  int planned_steps = 0;  // how many steps the executor meant to journal (for roll-forward)
  std::optional<std::int64_t> rollback_of;  // set when this transaction undoes another
  std::string started_at;                   // UTC, ISO 8601 with milliseconds
  std::string ended_at;                     // empty while open
  std::string error;                        // why it failed or was rolled back
};

struct StepRecord {
  std::int64_t txn_id = 0;
  int seq = 0;  // 1-based order inside the transaction
  StepSpec spec;
  nlohmann::json before;
  StepState state = StepState::kIntended;
  std::string error;
  std::string intended_at, applied_at, undo_intended_at, undone_at;  // empty when not reached
  std::optional<std::int64_t> undo_txn;  // the transaction that undid (or is undoing) it
};

struct JournalOptions {
  // Read-only: no migration, no writes; a missing journal is kNotFound. For `status` and other
  // readers that do not hold the provision lock.
  bool read_only = false;
  int busy_timeout_ms = 5000;
};

class Journal {
 public:
  // "<state_dir>/journal.db" (UTF-8, native separators not required).
  static std::string PathFor(const std::string& state_dir);

  // Opens (creating and migrating when writable) the journal in `state_dir`, which must exist.
  // Errors, each naming the file:
  //   kStateCorrupt  not an SQLite database, not a Stockade journal (application_id), a schema
  //                  version without its tables, or an integrity check failure;
  //   kStateTooNew   written by a newer Stockade (schema version above LatestVersion());
  //   kUnsupported   read-only open of a journal that needs a migration first;
  //   kNotFound      read-only open of a missing journal;
  //   kDatabaseBusy / kDatabase from SQLite.
  static Expected<Journal> Open(const std::string& state_dir, const JournalOptions& options = {});

  Journal(Journal&&) noexcept = default;
  Journal& operator=(Journal&&) noexcept = default;

  const std::string& path() const { return db_.path(); }
  // The schema version of the open file (== journal_schema::LatestVersion() when writable).
  int schema_version() const { return schema_version_; }

  // --- Writes (one durable commit each) --------------------------------------------------------

  // Inserts an open transaction; returns its id.
  Expected<std::int64_t> BeginTransaction(std::string_view kind, const nlohmann::json& args,
                                          int planned_steps,
                                          std::optional<std::int64_t> rollback_of = std::nullopt);
  // Sets the final state (committed, rolled_back or failed), ended_at and error (may be empty).
  Status FinishTransaction(std::int64_t txn_id, TxnState state, std::string_view error = {});
  // Completes a rollback: `rollback_txn_id` committed and `target_txn_id` rolled_back, in one
  // commit (so recovery never sees one without the other).
  Status FinishRollback(std::int64_t rollback_txn_id, std::int64_t target_txn_id);

  // Journals step `seq` of `txn_id` as intended, with the before-state Undo needs. kInvalidArgument
  // when params or before cannot be stored (e.g. a string that is not UTF-8).
  Status InsertIntendedStep(std::int64_t txn_id, int seq, const StepSpec& spec,
                            const nlohmann::json& before);
  Status MarkStepApplied(std::int64_t txn_id, int seq);
  // Records that `undo_txn_id` (the step's own transaction for an automatic rollback) is about to
  // undo the step.
  Status MarkStepUndoIntended(std::int64_t txn_id, int seq, std::int64_t undo_txn_id);
  Status MarkStepUndone(std::int64_t txn_id, int seq);
  // The step's Apply, Verify, Undo or VerifyUndone failed; `error` says which and why.
  Status MarkStepFailed(std::int64_t txn_id, int seq, std::string_view error);

  // --- Queries -----------------------------------------------------------------------------------

  // Every transaction, newest first.
  Expected<std::vector<TransactionRecord>> ListTransactions();
  // kNotFound naming the id when there is no such transaction.
  Expected<TransactionRecord> GetTransaction(std::int64_t txn_id);
  // Transactions in state open, newest first (normally none: the executor resolves them).
  Expected<std::vector<TransactionRecord>> OpenTransactions();
  // The steps of one transaction, in seq order.
  Expected<std::vector<StepRecord>> Steps(std::int64_t txn_id);

  // "Live" steps: applied in a committed transaction and not undone since, oldest first. These
  // are what Stockade currently owns on the system (status/drift, repair, uninstall, and apply's
  // "already ours" check). A step whose undo was started or failed in an unfinished rollback is
  // still live (state undo_intended or failed): it may still be on the system.
  Expected<std::vector<StepRecord>> LiveSteps();
  // The newest live step with this kind and target, if any.
  Expected<std::optional<StepRecord>> FindLiveStep(std::string_view kind, std::string_view target);
  // Steps of failed transactions (whose rollback did not complete) that are not undone: possibly
  // still on the system, and owned by no committed transaction. With kind/target: only those.
  Expected<std::vector<StepRecord>> UnresolvedSteps();
  Expected<std::optional<StepRecord>> FindUnresolvedStep(std::string_view kind,
                                                         std::string_view target);

  // The underlying connection, for tests and diagnostics.
  sqlite::Database& database() { return db_; }

 private:
  Journal(sqlite::Database db, int schema_version)
      : db_(std::move(db)), schema_version_(schema_version) {}

  Expected<std::vector<TransactionRecord>> QueryTransactions(std::string_view where,
                                                             std::optional<std::int64_t> id);
  Expected<std::vector<StepRecord>> QuerySteps(std::string_view sql,
                                               const std::vector<std::string>& text_args,
                                               std::optional<std::int64_t> id);
  Status UpdateStep(std::int64_t txn_id, int seq, std::string_view what, std::string_view sql,
                    std::optional<std::int64_t> extra_int, std::optional<std::string> extra_text);
  Error CorruptRow(std::string_view what) const;

  sqlite::Database db_;
  int schema_version_ = 0;
};

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_JOURNAL_JOURNAL_H_
