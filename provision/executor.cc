#include "provision/executor.h"

#include <filesystem>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "core/log/logging.h"
#include "provision/fault.h"

namespace stockade::provision {
namespace {

std::string TxnLabel(std::int64_t id) { return "transaction " + std::to_string(id); }

std::string StepLabel(std::int64_t txn_id, int seq) {
  return "step " + std::to_string(seq) + " of " + TxnLabel(txn_id);
}

std::string JoinDescriptions(const std::vector<StepOutcome>& outcomes) {
  std::string out;
  for (const StepOutcome& o : outcomes) {
    if (!out.empty()) out += "; ";
    out += o.description;
  }
  return out;
}

// "Same params" is a comparison of the canonical JSON text (object keys sorted), the same bytes
// the journal stores.
bool SameParams(const nlohmann::json& a, const nlohmann::json& b) {
  try {
    return a.dump() == b.dump();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// Keeps the step's error code and OS error number, with the context extended.
Error Extend(const Error& error, const std::string& prefix, const std::string& suffix) {
  return Error(error.code(), prefix + error.context() + suffix, error.os_kind(), error.os_error());
}

// The targets of `steps` that are not undone, for "what remains" messages.
std::string Remaining(const std::vector<StepRecord>& steps) {
  std::string out;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->state == StepState::kUndone) continue;
    if (!out.empty()) out += "; ";
    out += it->spec.target;
  }
  return out.empty() ? "nothing" : out;
}

}  // namespace

std::string_view StepOutcomeName(StepOutcomeKind kind) {
  switch (kind) {
    case StepOutcomeKind::kApplied:
      return "applied";
    case StepOutcomeKind::kUnchanged:
      return "unchanged";
    case StepOutcomeKind::kUndone:
      return "undone";
  }
  return "?";
}

std::string_view ResolutionName(Resolution resolution) {
  switch (resolution) {
    case Resolution::kRolledForward:
      return "rolled_forward";
    case Resolution::kRolledBack:
      return "rolled_back";
    case Resolution::kRollbackCompleted:
      return "rollback_completed";
    case Resolution::kFailed:
      return "failed";
  }
  return "?";
}

Expected<Executor> Executor::Open(ExecutorOptions options) {
  if (options.state_dir.empty()) {
    return Error(ErrorCode::kInvalidArgument, "the provisioner needs a state folder");
  }
  // A malformed fault variable fails before anything else, so a test typo never runs unfaulted.
  STOCKADE_RETURN_IF_ERROR(fault::InitFromEnvironment());
  {
    std::error_code ec;
    std::filesystem::create_directories(
        std::filesystem::path(std::u8string(options.state_dir.begin(), options.state_dir.end())),
        ec);
    if (ec) {
      return Error(ErrorCode::kIo,
                   "creating state folder " + options.state_dir + ": " + ec.message());
    }
  }
  std::chrono::milliseconds timeout{0};
  if (options.lock_timeout) {
    timeout = *options.lock_timeout;
  } else {
    auto from_env = LockTimeoutFromEnvironment();
    if (!from_env) return from_env.error();
    timeout = *from_env;
  }
  auto lock = ProvisionLock::Acquire(options.state_dir, timeout);
  if (!lock) return lock.error();
  auto journal = Journal::Open(options.state_dir);
  if (!journal) return journal.error();
  Executor executor(std::move(*lock), std::move(*journal), std::move(options.registry),
                    std::move(options.state_dir));
  STOCKADE_RETURN_IF_ERROR(executor.Recover());
  return executor;
}

// --- Run -----------------------------------------------------------------------------------------

Expected<RunResult> Executor::Run(std::string_view kind, const nlohmann::json& args,
                                  const std::vector<StepSpec>& specs) {
  auto open = journal_.OpenTransactions();
  if (!open) return open.error();
  if (!open->empty()) {
    return Error(ErrorCode::kInternal, TxnLabel(open->front().id) + " is still open in " +
                                           journal_.path() +
                                           " although recovery ran; refusing to start another");
  }

  // Classify every spec before changing anything, so that a refusal leaves the system alone.
  struct Planned {
    size_t index;
    std::unique_ptr<Step> step;
  };
  RunResult result;
  result.steps.resize(specs.size());
  std::vector<Planned> to_apply;
  for (size_t i = 0; i < specs.size(); ++i) {
    const StepSpec& spec = specs[i];
    auto step = registry_.Create(spec);
    if (!step) return step.error().Wrap("planning " + spec.target);
    StepOutcome& outcome = result.steps[i];
    outcome.spec = spec;
    outcome.description = (*step)->Describe();

    auto live = journal_.FindLiveStep(spec.kind, spec.target);
    if (!live) return live.error();
    if (*live) {
      if (SameParams((*live)->spec.params, spec.params)) {
        auto applied = (*step)->IsApplied();
        if (!applied) return applied.error().Wrap("reading back " + outcome.description);
        if (*applied) {
          outcome.outcome = StepOutcomeKind::kUnchanged;
          continue;
        }
      }
      // Ours, but drifted or asked with other params: applied again on top, so that rolling
      // this transaction back returns to the previous version of our own change.
      to_apply.push_back({i, std::move(*step)});
      continue;
    }
    auto unresolved = journal_.FindUnresolvedStep(spec.kind, spec.target);
    if (!unresolved) return unresolved.error();
    if (*unresolved) {
      return Error(ErrorCode::kAlreadyExists,
                   spec.target + " was left on the system by failed " +
                       TxnLabel((*unresolved)->txn_id) +
                       ", whose rollback did not complete; run `stockade-provision rollback` "
                       "to retry that rollback first");
    }
    auto present = (*step)->TargetPresent();
    if (!present) return present.error().Wrap("checking whether " + spec.target + " exists");
    if (*present) {
      return Error(ErrorCode::kAlreadyExists,
                   spec.target +
                       " exists but was not created by Stockade; refusing to take it over "
                       "(rolling back would then remove something that is not ours); remove "
                       "or rename it, or choose another identity prefix or path");
    }
    to_apply.push_back({i, std::move(*step)});
  }
  if (to_apply.empty()) return result;

  auto txn = journal_.BeginTransaction(kind, args, static_cast<int>(to_apply.size()));
  if (!txn) return txn.error();
  const std::int64_t txn_id = *txn;
  log::Logger()->info("{} {} started: {} step(s) to apply", kind, TxnLabel(txn_id),
                      to_apply.size());
  fault::CrashPoint(TxnLabel(txn_id) + " opened");

  // A journal write that fails leaves the transaction open: without a journal, undoing would
  // make OS changes nobody could account for. The next Open resolves it.
  auto journal_failure = [&](const Error& error) {
    return Extend(error, "",
                  "; " + TxnLabel(txn_id) +
                      " is left open in the journal; the next stockade-provision run resolves it");
  };

  std::optional<Error> failure;
  int seq = 0;
  for (Planned& planned : to_apply) {
    ++seq;
    Step& step = *planned.step;
    const StepSpec& spec = specs[planned.index];
    const std::string what = result.steps[planned.index].description;
    const std::string label = StepLabel(txn_id, seq);

    auto before = step.CaptureBefore();
    if (!before) {
      failure = Extend(before.error(), label + " (" + what + "): capturing the before-state: ", "");
      break;
    }
    if (Status s = journal_.InsertIntendedStep(txn_id, seq, spec, *before); !s.ok()) {
      if (s.error().code() == ErrorCode::kInvalidArgument) {  // unstorable params: nothing done
        failure = Extend(s.error(), label + " (" + what + "): ", "");
        break;
      }
      return journal_failure(s.error());
    }
    fault::CrashPoint(label + " journaled as intended");

    Status applied = fault::BeforeApply(what);
    if (applied.ok()) applied = step.Apply();
    if (applied.ok()) applied = fault::AfterApply(what);
    if (applied.ok()) {
      fault::CrashPoint(label + " applied to the system");
      applied = step.Verify();
      if (!applied.ok()) {
        applied = Extend(applied.error(), "read-back after applying: ", "");
      }
    }
    if (!applied.ok()) {
      failure = Extend(applied.error(), label + " (" + what + "): ", "");
      if (Status s = journal_.MarkStepFailed(txn_id, seq, failure->ToString()); !s.ok()) {
        return journal_failure(s.error());
      }
      break;
    }
    if (Status s = journal_.MarkStepApplied(txn_id, seq); !s.ok()) {
      return journal_failure(s.error());
    }
    fault::CrashPoint(label + " journaled as applied");
    StepOutcome& outcome = result.steps[planned.index];
    outcome.outcome = StepOutcomeKind::kApplied;
    outcome.txn_id = txn_id;
    outcome.seq = seq;
  }

  if (!failure) {
    if (Status s = journal_.FinishTransaction(txn_id, TxnState::kCommitted); !s.ok()) {
      return journal_failure(s.error());
    }
    log::Logger()->info("{} {} committed", kind, TxnLabel(txn_id));
    result.txn_id = txn_id;
    result.changed = true;
    return result;
  }

  // Roll the transaction back in reverse, the failing step included: it may be half-applied.
  log::Logger()->warn("{} failed, rolling it back: {}", TxnLabel(txn_id), failure->ToString());
  auto steps = journal_.Steps(txn_id);
  if (!steps) return journal_failure(steps.error());
  std::vector<StepRecord> reversed(steps->rbegin(), steps->rend());
  std::vector<StepOutcome> undone;
  bool journal_failed = false;
  Status undo = UndoSteps(txn_id, reversed, undone, journal_failed);
  if (journal_failed) return journal_failure(undo.error());
  if (undo.ok()) {
    if (Status s = journal_.FinishTransaction(txn_id, TxnState::kRolledBack, failure->ToString());
        !s.ok()) {
      return journal_failure(s.error());
    }
    return Extend(*failure, "",
                  "; " + TxnLabel(txn_id) + " was rolled back: undid " +
                      std::to_string(undone.size()) + " step(s)" +
                      (undone.empty() ? std::string() : ": " + JoinDescriptions(undone)));
  }
  auto after = journal_.Steps(txn_id);
  const std::string remaining = after ? Remaining(*after) : std::string("unknown");
  const std::string message = failure->ToString() +
                              "; rolling back failed: " + undo.error().ToString() +
                              "; still in place: " + remaining;
  if (Status s = journal_.FinishTransaction(txn_id, TxnState::kFailed, message); !s.ok()) {
    return journal_failure(s.error());
  }
  return Extend(*failure, "",
                "; rolling " + TxnLabel(txn_id) + " back did not complete (" +
                    undo.error().ToString() + "); undid " + std::to_string(undone.size()) +
                    " step(s); still in place: " + remaining +
                    "; run `stockade-provision rollback` to retry");
}

// --- Undo ----------------------------------------------------------------------------------------

Status Executor::UndoSteps(std::int64_t undo_txn_id, const std::vector<StepRecord>& steps,
                           std::vector<StepOutcome>& undone, bool& journal_failed) {
  journal_failed = false;
  for (const StepRecord& record : steps) {
    if (record.state == StepState::kUndone) continue;
    const std::string label = StepLabel(record.txn_id, record.seq);
    auto step = registry_.Create(record.spec);
    if (!step) {
      Error error = step.error().Wrap("cannot undo " + label + " (" + record.spec.target + ")");
      if (Status s = journal_.MarkStepFailed(record.txn_id, record.seq, error.ToString());
          !s.ok()) {
        journal_failed = true;
        return s.error();
      }
      return error;
    }
    const std::string what = (*step)->Describe();
    if (record.state != StepState::kUndoIntended) {
      if (Status s = journal_.MarkStepUndoIntended(record.txn_id, record.seq, undo_txn_id);
          !s.ok()) {
        journal_failed = true;
        return s.error();
      }
      fault::CrashPoint(label + " journaled as undo intended");
    }
    Status status = fault::BeforeUndo(what);
    if (status.ok()) status = (*step)->Undo(record.before);
    if (status.ok()) {
      fault::CrashPoint(label + " undone on the system");
      status = (*step)->VerifyUndone(record.before);
      if (!status.ok()) status = Extend(status.error(), "read-back after undoing: ", "");
    }
    if (!status.ok()) {
      Error error = Extend(status.error(), "undoing " + label + " (" + what + "): ", "");
      if (Status s = journal_.MarkStepFailed(record.txn_id, record.seq, error.ToString());
          !s.ok()) {
        journal_failed = true;
        return s.error();
      }
      return error;
    }
    if (Status s = journal_.MarkStepUndone(record.txn_id, record.seq); !s.ok()) {
      journal_failed = true;
      return s.error();
    }
    fault::CrashPoint(label + " journaled as undone");
    StepOutcome outcome;
    outcome.outcome = StepOutcomeKind::kUndone;
    outcome.spec = record.spec;
    outcome.description = what;
    outcome.txn_id = record.txn_id;
    outcome.seq = record.seq;
    undone.push_back(std::move(outcome));
  }
  return OkStatus();
}

// --- Rollback of committed transactions ----------------------------------------------------------

Expected<std::vector<StepOutcome>> Executor::CompleteRollback(std::int64_t rollback_txn_id,
                                                              std::int64_t target_txn_id) {
  auto steps = journal_.Steps(target_txn_id);
  if (!steps) return steps.error();
  std::vector<StepRecord> reversed(steps->rbegin(), steps->rend());
  std::vector<StepOutcome> undone;
  bool journal_failed = false;
  Status undo = UndoSteps(rollback_txn_id, reversed, undone, journal_failed);
  if (journal_failed) {
    return Extend(undo.error(), "",
                  "; rollback " + TxnLabel(rollback_txn_id) +
                      " is left open in the journal; the next stockade-provision run finishes it");
  }
  if (!undo.ok()) {
    auto after = journal_.Steps(target_txn_id);
    const std::string remaining = after ? Remaining(*after) : std::string("unknown");
    const std::string message = "rolling back " + TxnLabel(target_txn_id) +
                                " did not complete: " + undo.error().ToString() + "; undid " +
                                std::to_string(undone.size()) +
                                " step(s); still in place: " + remaining;
    STOCKADE_RETURN_IF_ERROR(
        journal_.FinishTransaction(rollback_txn_id, TxnState::kFailed, message));
    return Error(undo.error().code(), message + "; run `stockade-provision rollback` to retry",
                 undo.error().os_kind(), undo.error().os_error());
  }
  STOCKADE_RETURN_IF_ERROR(journal_.FinishRollback(rollback_txn_id, target_txn_id));
  log::Logger()->info("{} rolled back by {}: {} step(s) undone", TxnLabel(target_txn_id),
                      TxnLabel(rollback_txn_id), undone.size());
  return undone;
}

Expected<RollbackResult> Executor::Rollback(std::int64_t txn_id, std::string_view kind) {
  auto target = journal_.GetTransaction(txn_id);
  if (!target) return target.error();
  if (target->rollback_of) {
    return Error(ErrorCode::kInvalidArgument, TxnLabel(txn_id) + " is itself the rollback of " +
                                                  TxnLabel(*target->rollback_of) +
                                                  "; apply again instead of undoing it");
  }
  if (target->state != TxnState::kCommitted && target->state != TxnState::kFailed) {
    return Error(ErrorCode::kInvalidArgument,
                 TxnLabel(txn_id) + " (" + target->kind + ") is " +
                     std::string(TxnStateName(target->state)) +
                     "; only committed transactions "
                     "and failed ones (to retry their rollback) can be rolled back");
  }
  auto steps = journal_.Steps(txn_id);
  if (!steps) return steps.error();
  int to_undo = 0;
  for (const StepRecord& record : *steps) {
    if (record.state == StepState::kUndone) continue;
    ++to_undo;
    // Undoing an older layer under a newer one would put back a before-state that the newer
    // transaction already replaced, and leave the newer one's journal wrong.
    auto live = journal_.FindLiveStep(record.spec.kind, record.spec.target);
    if (!live) return live.error();
    auto unresolved = journal_.FindUnresolvedStep(record.spec.kind, record.spec.target);
    if (!unresolved) return unresolved.error();
    for (const auto* newer : {live->has_value() ? &**live : nullptr,
                              unresolved->has_value() ? &**unresolved : nullptr}) {
      if (newer != nullptr && newer->txn_id > txn_id) {
        return Error(ErrorCode::kInvalidArgument,
                     "cannot roll back " + TxnLabel(txn_id) + " before " + TxnLabel(newer->txn_id) +
                         ", which changed " + record.spec.target +
                         " after it; roll that one back first (or roll back all)");
      }
    }
  }

  nlohmann::json args = nlohmann::json::object();
  args["rollback_of"] = txn_id;
  auto rollback_txn = journal_.BeginTransaction(kind, args, to_undo, txn_id);
  if (!rollback_txn) return rollback_txn.error();
  fault::CrashPoint("rollback " + TxnLabel(*rollback_txn) + " opened");
  auto undone = CompleteRollback(*rollback_txn, txn_id);
  if (!undone) return undone.error();
  RollbackResult result;
  result.rollback_txn_id = *rollback_txn;
  result.target_txn_id = txn_id;
  result.undone = std::move(*undone);
  return result;
}

Expected<std::vector<TransactionRecord>> Executor::RollbackCandidates() {
  auto all = journal_.ListTransactions();
  if (!all) return all.error();
  std::vector<TransactionRecord> out;
  for (TransactionRecord& txn : *all) {
    if (txn.rollback_of) continue;
    if (txn.state == TxnState::kCommitted || txn.state == TxnState::kFailed) {
      out.push_back(std::move(txn));
    }
  }
  return out;
}

Expected<std::optional<RollbackResult>> Executor::RollbackLast(std::string_view kind) {
  auto candidates = RollbackCandidates();
  if (!candidates) return candidates.error();
  if (candidates->empty()) return std::optional<RollbackResult>();
  auto result = Rollback(candidates->front().id, kind);
  if (!result) return result.error();
  return std::optional<RollbackResult>(std::move(*result));
}

Expected<std::vector<RollbackResult>> Executor::RollbackAll(std::string_view kind) {
  auto candidates = RollbackCandidates();
  if (!candidates) return candidates.error();
  std::vector<RollbackResult> results;
  for (size_t i = 0; i < candidates->size(); ++i) {
    auto result = Rollback((*candidates)[i].id, kind);
    if (!result) {
      std::string done;
      for (const RollbackResult& r : results) {
        done += (done.empty() ? "" : ", ") + std::to_string(r.target_txn_id);
      }
      std::string left;
      for (size_t j = i; j < candidates->size(); ++j) {
        left += (left.empty() ? "" : ", ") + std::to_string((*candidates)[j].id);
      }
      return Extend(result.error(),
                    "rolled back transaction(s) [" + done + "]; then rolling back " +
                        TxnLabel((*candidates)[i].id) + ": ",
                    "; still to roll back: transaction(s) [" + left + "]");
    }
    results.push_back(std::move(*result));
  }
  return results;
}

// --- Recovery ------------------------------------------------------------------------------------

Status Executor::Recover() {
  auto open = journal_.OpenTransactions();
  if (!open) return open.error();
  for (const TransactionRecord& txn : *open) {  // newest first
    log::Logger()->warn("{} ({}) was left open by an interrupted provisioner; resolving it",
                        TxnLabel(txn.id), txn.kind);
    auto resolved = RecoverOne(txn);
    if (!resolved) return resolved.error().Wrap("recovering " + TxnLabel(txn.id));
    log::Logger()->warn("{}: {}{}", TxnLabel(txn.id), ResolutionName(resolved->resolution),
                        resolved->error.empty() ? "" : " -- " + resolved->error);
    recovery_.push_back(std::move(*resolved));
  }
  return OkStatus();
}

Expected<RecoveredTransaction> Executor::RecoverOne(const TransactionRecord& txn) {
  RecoveredTransaction out;
  out.txn_id = txn.id;
  out.kind = txn.kind;

  if (txn.rollback_of) {
    auto undone = CompleteRollback(txn.id, *txn.rollback_of);
    if (undone) {
      out.resolution = Resolution::kRollbackCompleted;
      out.undone = std::move(*undone);
      return out;
    }
    // CompleteRollback marked the rollback failed unless the journal itself failed.
    auto now = journal_.GetTransaction(txn.id);
    if (!now) return now.error();
    if (now->state == TxnState::kOpen) return undone.error();
    out.resolution = Resolution::kFailed;
    out.error = undone.error().ToString();
    return out;
  }

  auto steps = journal_.Steps(txn.id);
  if (!steps) return steps.error();
  bool all_applied =
      txn.planned_steps > 0 && steps->size() == static_cast<size_t>(txn.planned_steps);
  for (const StepRecord& record : *steps) {
    if (record.state != StepState::kApplied) all_applied = false;
  }
  std::string reason = "interrupted before all its steps were applied; rolled back by recovery";
  if (all_applied) {
    // Every change was made and journaled; only the final mark is missing. Read each back before
    // believing it (the crash may have been anything).
    std::optional<Error> mismatch;
    for (const StepRecord& record : *steps) {
      auto step = registry_.Create(record.spec);
      Status verified = step ? (*step)->Verify() : Status(step.error());
      if (!verified.ok()) {
        mismatch = verified.error().Wrap(StepLabel(txn.id, record.seq));
        break;
      }
    }
    if (!mismatch) {
      STOCKADE_RETURN_IF_ERROR(journal_.FinishTransaction(txn.id, TxnState::kCommitted));
      out.resolution = Resolution::kRolledForward;
      return out;
    }
    reason = "interrupted after applying every step, but " + mismatch->ToString() +
             "; rolled back by recovery";
  }

  std::vector<StepRecord> reversed(steps->rbegin(), steps->rend());
  bool journal_failed = false;
  Status undo = UndoSteps(txn.id, reversed, out.undone, journal_failed);
  if (journal_failed) return undo.error();
  if (undo.ok()) {
    STOCKADE_RETURN_IF_ERROR(journal_.FinishTransaction(txn.id, TxnState::kRolledBack, reason));
    out.resolution = Resolution::kRolledBack;
    return out;
  }
  auto after = journal_.Steps(txn.id);
  out.error = "interrupted, and rolling it back failed: " + undo.error().ToString() +
              "; still in place: " + (after ? Remaining(*after) : std::string("unknown")) +
              "; run `stockade-provision rollback` to retry";
  STOCKADE_RETURN_IF_ERROR(journal_.FinishTransaction(txn.id, TxnState::kFailed, out.error));
  out.resolution = Resolution::kFailed;
  return out;
}

}  // namespace stockade::provision
