// The executor: drives steps through the journaled protocol of step.h, rolls failed transactions
// back, rolls committed ones back on request, and resolves what a crashed provisioner left open.
// docs/journal.md describes the protocol, the crash points and the recovery rules.
//
// One Executor per process at a time: Open takes the provision lock (lock.h) and holds it until
// the Executor is destroyed, so everything below runs as the machine's only provisioner.
#ifndef STOCKADE_PROVISION_EXECUTOR_H_
#define STOCKADE_PROVISION_EXECUTOR_H_

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "provision/journal/journal.h"
#include "provision/lock.h"
#include "provision/step.h"

namespace stockade::provision {

struct ExecutorOptions {
  std::string state_dir;  // created if missing; holds journal.db and provision.lock
  StepRegistry registry;  // the step kinds this process can run (RegisterPlatformSteps)
  // How long to wait for another provisioner; nullopt: LockTimeoutFromEnvironment().
  std::optional<std::chrono::milliseconds> lock_timeout;
};

enum class StepOutcomeKind {
  kApplied,    // changed the system (journaled, applied, verified)
  kUnchanged,  // already journaled as ours and read back as applied: nothing done
  kUndone,     // undone (and verified) by a rollback
};
std::string_view StepOutcomeName(StepOutcomeKind kind);  // "applied", "unchanged", "undone"

struct StepOutcome {
  StepOutcomeKind outcome = StepOutcomeKind::kApplied;
  StepSpec spec;
  std::string description;  // Step::Describe()
  std::int64_t txn_id = 0;  // the journal row it belongs to (0 for kUnchanged)
  int seq = 0;
};

struct RunResult {
  std::optional<std::int64_t> txn_id;  // none when nothing needed changing (no row is written)
  std::vector<StepOutcome> steps;      // one per spec, in spec order
  bool changed = false;                // false: the caller can say "no changes"
};

struct RollbackResult {
  std::int64_t rollback_txn_id = 0;  // the journal row of the rollback itself
  std::int64_t target_txn_id = 0;    // the transaction that was undone
  std::vector<StepOutcome> undone;   // newest step first
};

// What Open did about transactions a previous process left open.
enum class Resolution {
  kRolledForward,      // every step was applied and verifies: marked committed
  kRolledBack,         // undone step by step and marked rolled_back
  kRollbackCompleted,  // an interrupted rollback (of another transaction) was finished
  kFailed,             // could not be resolved: marked failed; error says what remains
};
std::string_view ResolutionName(Resolution resolution);

struct RecoveredTransaction {
  std::int64_t txn_id = 0;
  std::string kind;
  Resolution resolution = Resolution::kRolledBack;
  std::vector<StepOutcome> undone;  // for kRolledBack / kRollbackCompleted
  std::string error;                // for kFailed
};

class Executor {
 public:
  // Creates the state folder if needed, takes the provision lock, loads fault injection from the
  // environment (fault.h), opens and migrates the journal, then resolves every open transaction
  // (newest first) before returning:
  //   - a rollback transaction is completed;
  //   - a transaction whose planned steps are all applied is verified step by step and marked
  //     committed (rolled forward), or rolled back if a step no longer verifies;
  //   - any other is rolled back in reverse, undoing every step not yet undone.
  // A transaction that cannot be resolved is marked failed and reported in recovery(); Open
  // still succeeds so that `rollback` can retry it. Errors: those of ProvisionLock::Acquire,
  // Journal::Open, fault::InitFromEnvironment, and journal write failures during recovery.
  static Expected<Executor> Open(ExecutorOptions options);

  Executor(Executor&&) noexcept = default;
  Executor& operator=(Executor&&) noexcept = default;

  const std::vector<RecoveredTransaction>& recovery() const { return recovery_; }
  Journal& journal() { return journal_; }
  const StepRegistry& registry() const { return registry_; }
  const std::string& state_dir() const { return state_dir_; }

  // Runs one transaction of kind `kind` (txn_kind::kApply, ...) with the caller's `args`
  // (journaled as given) over `specs`, in order.
  // First, before changing anything, each spec is classified:
  //   - the journal owns an identical live step (kind, target, params) and IsApplied() reads
  //     back true: kUnchanged, skipped;
  //   - the journal owns the target (a live step of the same kind and target): applied again
  //     on top (its before-state is our previous version, so rollback restores that);
  //   - a failed transaction left the target unresolved: kAlreadyExists, roll that back first;
  //   - otherwise, TargetPresent() true: kAlreadyExists "<target> exists but was not created by
  //     Stockade; refusing to take it over";
  //   - otherwise: to apply.
  // When nothing is to apply, returns changed=false without writing a transaction. Otherwise it
  // journals the transaction and, per step: CaptureBefore, journal as intended (durable), Apply,
  // Verify, journal as applied; then marks the transaction committed.
  // On a step failure it undoes the transaction in reverse (Undo + VerifyUndone per step, the
  // failing one included) and returns the step's error, its context extended with what was
  // undone; the transaction is rolled_back, or failed when an undo failed (the error then also
  // says what remains and that `rollback` retries). A journal write failure stops at once and
  // leaves the transaction open for the next Open to resolve.
  Expected<RunResult> Run(std::string_view kind, const nlohmann::json& args,
                          const std::vector<StepSpec>& specs);

  // Undoes the committed (or failed) transaction `txn_id`, newest step first, as a journaled
  // transaction of kind `kind` (txn_kind::kRollback or kUninstall) with rollback_of = txn_id.
  // Errors: kNotFound (no such transaction); kInvalidArgument when it is open, already rolled
  // back, itself a rollback, or a newer live transaction changed one of its targets since (roll
  // that one back first); a step's Undo/VerifyUndone error, after which the rollback transaction
  // is failed and the remaining steps stay live (retrying continues where it stopped).
  Expected<RollbackResult> Rollback(std::int64_t txn_id,
                                    std::string_view kind = txn_kind::kRollback);
  // The newest transaction that can be rolled back (committed or failed, not a rollback);
  // nullopt when there is none.
  Expected<std::optional<RollbackResult>> RollbackLast(std::string_view kind = txn_kind::kRollback);
  // Every such transaction, newest first; stops at the first error (the error lists what was
  // rolled back before it and what remains).
  Expected<std::vector<RollbackResult>> RollbackAll(std::string_view kind = txn_kind::kRollback);

 private:
  Executor(ProvisionLock lock, Journal journal, StepRegistry registry, std::string state_dir)
      : lock_(std::move(lock)),
        journal_(std::move(journal)),
        registry_(std::move(registry)),
        state_dir_(std::move(state_dir)) {}

  // Undoes `steps` (already in undo order) that are not undone yet, journaling each mark under
  // `undo_txn_id`. Appends to `undone`. Returns the first failure; `journal_failed` tells a
  // journal write failure (stop, leave open) from a step failure (mark failed).
  Status UndoSteps(std::int64_t undo_txn_id, const std::vector<StepRecord>& steps,
                   std::vector<StepOutcome>& undone, bool& journal_failed);
  Status Recover();
  Expected<RecoveredTransaction> RecoverOne(const TransactionRecord& txn);
  Expected<std::vector<StepOutcome>> CompleteRollback(std::int64_t rollback_txn_id,
                                                      std::int64_t target_txn_id);
  Expected<std::vector<TransactionRecord>> RollbackCandidates();

  // Declared first: destroyed last, so the journal is closed before the lock is released.
  ProvisionLock lock_;
  Journal journal_;
  StepRegistry registry_;
  std::string state_dir_;
  std::vector<RecoveredTransaction> recovery_;
};

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_EXECUTOR_H_
