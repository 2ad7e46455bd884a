// The executor with real files (the portable file step) in temp folders: the happy path, the
// idempotent second run, drift, refusal to adopt, failure injection with byte-identical rollback,
// a step whose change does not stick (like Wine's stubs), failed rollbacks and their retry,
// rollback of committed transactions, and recovery of transactions left open.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "journal_test_support.h"
#include "provision/executor.h"
#include "provision/fault.h"
#include "provision/steps/file_io.h"
#include "provision/steps/file_step.h"
#include "provision/steps/portable_steps.h"

namespace stockade::provision {
namespace {

using journal_test::DiffTrees;
using journal_test::ReadTextFile;
using journal_test::SnapshotTree;
using journal_test::TempDir;
using journal_test::Tree;

constexpr char kStubKind[] = "test.stub";

// A step like the OS calls Wine stubs out: Apply reports success and changes nothing, so only
// the read-back (Verify) can tell.
class StubStep : public Step {
 public:
  using Step::Step;
  std::string Describe() const override { return "stub change " + spec().target; }
  Expected<nlohmann::json> CaptureBefore() override { return nlohmann::json::object(); }
  Expected<bool> IsApplied() override { return false; }
  Expected<bool> TargetPresent() override { return false; }
  Status Apply() override { return OkStatus(); }
  Status Verify() override {
    return Error(ErrorCode::kVerificationFailed, spec().target + " reads back unchanged");
  }
  Status Undo(const nlohmann::json&) override { return OkStatus(); }
  Status VerifyUndone(const nlohmann::json&) override { return OkStatus(); }
};

class ExecutorRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fault::Configure({});
    journal_test::WriteTextFile(tree_.Sub("unrelated.txt"), "someone else's file\n");
  }
  void TearDown() override { fault::Configure({}); }

  Executor OpenExecutor() {
    ExecutorOptions options;
    options.state_dir = state_.path();
    RegisterPortableSteps(options.registry);
    options.registry.Register(kStubKind,
                              [](const StepSpec& spec) -> Expected<std::unique_ptr<Step>> {
                                return std::unique_ptr<Step>(std::make_unique<StubStep>(spec));
                              });
    options.lock_timeout = std::chrono::milliseconds(2000);
    auto executor = Executor::Open(std::move(options));
    if (!executor.ok()) ADD_FAILURE() << executor.error().ToString();
    return std::move(executor).value();
  }

  std::string P(const std::string& rel) const { return tree_.Sub(rel); }

  std::vector<StepSpec> ThreeFiles(const std::string& version) {
    return {MakeFileSpec(P("a.txt"), "alpha " + version + "\n", 0644),
            MakeFileSpec(P("b.conf"), "beta " + version + "\n", 0600),
            MakeFileSpec(P("new/deeper/c.txt"), "gamma " + version + "\n", 0444, true)};
  }

  std::vector<TransactionRecord> Transactions(Executor& executor) {
    auto txns = executor.journal().ListTransactions();
    EXPECT_TRUE(txns.ok());
    return txns.ok() ? *txns : std::vector<TransactionRecord>{};
  }

  TempDir state_;
  TempDir tree_;
};

TEST_F(ExecutorRunTest, AppliesJournalsAndVerifies) {
  Executor executor = OpenExecutor();
  EXPECT_TRUE(executor.recovery().empty());
  auto result = executor.Run(txn_kind::kApply, {{"policy", "p.toml"}}, ThreeFiles("v1"));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_TRUE(result->changed);
  ASSERT_TRUE(result->txn_id.has_value());
  ASSERT_EQ(result->steps.size(), 3u);
  for (const StepOutcome& o : result->steps) {
    EXPECT_EQ(o.outcome, StepOutcomeKind::kApplied) << o.description;
    EXPECT_EQ(o.txn_id, *result->txn_id);
  }
  EXPECT_EQ(result->steps[1].description, "write file " + P("b.conf") + " (mode 0600, 8 bytes)");

  EXPECT_EQ(ReadTextFile(P("a.txt")), "alpha v1\n");
  EXPECT_EQ(ReadTextFile(P("b.conf")), "beta v1\n");
  EXPECT_EQ(ReadTextFile(P("new/deeper/c.txt")), "gamma v1\n");
  // Modes as the OS reports them (only the owner-write bit on Windows).
  const std::uint32_t mask = file_io::SignificantModeBits();
  auto perms = [](const std::string& p) {
    return static_cast<std::uint32_t>(
        std::filesystem::status(std::filesystem::path(std::u8string(p.begin(), p.end())))
            .permissions());
  };
  EXPECT_EQ(perms(P("a.txt")) & mask, 0644u & mask);
  EXPECT_EQ(perms(P("b.conf")) & mask, 0600u & mask);
  EXPECT_EQ(perms(P("new/deeper/c.txt")) & mask, 0444u & mask);
  EXPECT_FALSE(journal_test::Exists(file_io::TempPathFor(P("a.txt"))));

  auto txn = executor.journal().GetTransaction(*result->txn_id);
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(txn->state, TxnState::kCommitted);
  EXPECT_EQ(txn->kind, "apply");
  EXPECT_EQ(txn->args, nlohmann::json({{"policy", "p.toml"}}));
  EXPECT_EQ(txn->planned_steps, 3);
  auto steps = executor.journal().Steps(*result->txn_id);
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 3u);
  for (const StepRecord& s : *steps) {
    EXPECT_EQ(s.state, StepState::kApplied);
    EXPECT_EQ(s.before["exists"], false);
  }
  // The created folders are in the before-state, outermost first, so Undo can remove them.
  EXPECT_EQ((*steps)[2].before["created_dirs"], nlohmann::json::array({P("new"), P("new/deeper")}));
  auto live = executor.journal().LiveSteps();
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->size(), 3u);
}

TEST_F(ExecutorRunTest, SecondRunChangesNothing) {
  {
    Executor executor = OpenExecutor();
    ASSERT_TRUE(executor.Run(txn_kind::kApply, {}, ThreeFiles("v1")).ok());
  }
  const Tree applied = SnapshotTree(tree_.path());
  Executor executor = OpenExecutor();
  auto again = executor.Run(txn_kind::kApply, {}, ThreeFiles("v1"));
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_FALSE(again->changed);
  EXPECT_FALSE(again->txn_id.has_value());
  for (const StepOutcome& o : again->steps) {
    EXPECT_EQ(o.outcome, StepOutcomeKind::kUnchanged) << o.description;
  }
  EXPECT_EQ(Transactions(executor).size(), 1u);  // no row for a run that changed nothing
  EXPECT_EQ(DiffTrees(applied, SnapshotTree(tree_.path())), "");
}

TEST_F(ExecutorRunTest, DriftIsAppliedAgainAndRollbackRestoresTheDrift) {
  Executor executor = OpenExecutor();
  ASSERT_TRUE(executor.Run(txn_kind::kApply, {}, ThreeFiles("v1")).ok());
  journal_test::WriteTextFile(P("b.conf"), "edited by hand\n");
  const Tree drifted = SnapshotTree(tree_.path());

  auto repair = executor.Run(txn_kind::kRepair, {}, ThreeFiles("v1"));
  ASSERT_TRUE(repair.ok()) << repair.error().ToString();
  EXPECT_TRUE(repair->changed);
  EXPECT_EQ(repair->steps[0].outcome, StepOutcomeKind::kUnchanged);
  EXPECT_EQ(repair->steps[1].outcome, StepOutcomeKind::kApplied);
  EXPECT_EQ(repair->steps[2].outcome, StepOutcomeKind::kUnchanged);
  EXPECT_EQ(ReadTextFile(P("b.conf")), "beta v1\n");

  // The repair's before-state is the drifted file: undoing the repair puts exactly that back.
  auto rolled = executor.RollbackLast();
  ASSERT_TRUE(rolled.ok()) << rolled.error().ToString();
  ASSERT_TRUE(rolled->has_value());
  EXPECT_EQ((*rolled)->target_txn_id, *repair->txn_id);
  EXPECT_EQ(DiffTrees(drifted, SnapshotTree(tree_.path())), "");
}

TEST_F(ExecutorRunTest, RefusesToTakeOverWhatItDidNotCreate) {
  journal_test::WriteTextFile(P("b.conf"), "pre-existing, not ours\n");
  const Tree before = SnapshotTree(tree_.path());
  Executor executor = OpenExecutor();
  auto result = executor.Run(txn_kind::kApply, {}, ThreeFiles("v1"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(result.error().context().find("file " + P("b.conf") +
                                          " exists but was not created by Stockade; refusing to "
                                          "take it over"),
            std::string::npos)
      << result.error().context();
  // Refused before anything changed: not even a.txt (spec 1) was written, no transaction row.
  EXPECT_EQ(DiffTrees(before, SnapshotTree(tree_.path())), "");
  EXPECT_TRUE(Transactions(executor).empty());
}

TEST_F(ExecutorRunTest, FailureInjectionRollsBackToByteIdentical) {
  Executor executor = OpenExecutor();
  ASSERT_TRUE(executor.Run(txn_kind::kApply, {}, {MakeFileSpec(P("a.txt"), "alpha v1\n")}).ok());
  const Tree before = SnapshotTree(tree_.path());

  fault::Configure({.fail_apply_at = 3});
  auto result = executor.Run(txn_kind::kApply, {}, ThreeFiles("v2"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kOs);
  const std::string& context = result.error().context();
  EXPECT_NE(context.find("fault injection (STOCKADE_FAIL_AT=3)"), std::string::npos) << context;
  EXPECT_NE(context.find("was rolled back: undid 3 step(s)"), std::string::npos) << context;
  EXPECT_EQ(DiffTrees(before, SnapshotTree(tree_.path())), "");

  auto txns = Transactions(executor);
  ASSERT_EQ(txns.size(), 2u);
  EXPECT_EQ(txns[0].state, TxnState::kRolledBack);
  EXPECT_NE(txns[0].error.find("fault injection"), std::string::npos);
  auto steps = executor.journal().Steps(txns[0].id);
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 3u);
  for (const StepRecord& s : *steps) EXPECT_EQ(s.state, StepState::kUndone);
  EXPECT_NE((*steps)[2].error.find("fault injection"), std::string::npos);  // why it failed
  // Only the first transaction's step is live: a.txt v1, layered under nothing.
  auto live = executor.journal().LiveSteps();
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ(live->front().txn_id, txns[1].id);
}

TEST_F(ExecutorRunTest, HalfAppliedFailingStepIsUndoneToo) {
  const Tree before = SnapshotTree(tree_.path());
  Executor executor = OpenExecutor();
  fault::Configure({.fail_apply_at = 2, .fail_after_change = true});
  auto result = executor.Run(txn_kind::kApply, {}, ThreeFiles("v1"));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().context().find("failed after making its change"), std::string::npos)
      << result.error().context();
  EXPECT_NE(result.error().context().find("undid 2 step(s)"), std::string::npos)
      << result.error().context();
  EXPECT_EQ(DiffTrees(before, SnapshotTree(tree_.path())), "");
}

TEST_F(ExecutorRunTest, ChangeThatDoesNotStickIsDetectedAndRolledBack) {
  const Tree before = SnapshotTree(tree_.path());
  Executor executor = OpenExecutor();
  std::vector<StepSpec> specs = ThreeFiles("v1");
  specs.insert(specs.begin() + 2, StepSpec{kStubKind, "firewall rule X", {{"n", 1}}});
  auto result = executor.Run(txn_kind::kApply, {}, specs);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(result.error().context().find("firewall rule X reads back unchanged"),
            std::string::npos)
      << result.error().context();
  EXPECT_EQ(DiffTrees(before, SnapshotTree(tree_.path())), "");
}

TEST_F(ExecutorRunTest, FailedRollbackIsReportedKeptAndRetried) {
  const Tree before = SnapshotTree(tree_.path());
  {
    Executor executor = OpenExecutor();
    // Step 3 fails; undoing it (undo #1) works; undoing step 2 (undo #2) fails.
    fault::Configure({.fail_apply_at = 3, .fail_undo_at = 2});
    auto result = executor.Run(txn_kind::kApply, {}, ThreeFiles("v1"));
    ASSERT_FALSE(result.ok());
    const std::string& context = result.error().context();
    EXPECT_NE(context.find("did not complete"), std::string::npos) << context;
    EXPECT_NE(context.find("STOCKADE_FAIL_UNDO_AT=2"), std::string::npos) << context;
    EXPECT_NE(context.find("still in place: file " + P("b.conf") + "; file " + P("a.txt")),
              std::string::npos)
        << context;
    auto txns = Transactions(executor);
    ASSERT_EQ(txns.size(), 1u);
    EXPECT_EQ(txns[0].state, TxnState::kFailed);
    EXPECT_TRUE(journal_test::Exists(P("a.txt")));  // really still there, as reported

    // Applying again over what the failed transaction left is refused, naming the way out.
    fault::Configure({});
    auto again = executor.Run(txn_kind::kApply, {}, ThreeFiles("v1"));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
    EXPECT_NE(again.error().context().find("rollback did not complete"), std::string::npos)
        << again.error().context();
  }
  // A later process retries the rollback; it finishes the job.
  Executor executor = OpenExecutor();
  EXPECT_TRUE(executor.recovery().empty());  // failed is resolved, not open
  auto retried = executor.RollbackLast();
  ASSERT_TRUE(retried.ok()) << retried.error().ToString();
  ASSERT_TRUE(retried->has_value());
  EXPECT_EQ((*retried)->undone.size(), 2u);
  EXPECT_EQ(DiffTrees(before, SnapshotTree(tree_.path())), "");
  auto txns = Transactions(executor);
  ASSERT_EQ(txns.size(), 2u);
  EXPECT_EQ(txns[0].kind, "rollback");
  EXPECT_EQ(txns[0].state, TxnState::kCommitted);
  EXPECT_EQ(txns[1].state, TxnState::kRolledBack);
}

TEST_F(ExecutorRunTest, RollbackLastByIdAndAll) {
  const Tree original = SnapshotTree(tree_.path());
  Executor executor = OpenExecutor();
  auto t1 = executor.Run(txn_kind::kApply, {}, ThreeFiles("v1"));
  ASSERT_TRUE(t1.ok()) << t1.error().ToString();
  const Tree after_t1 = SnapshotTree(tree_.path());
  auto t2 = executor.Run(txn_kind::kGrant, {}, {MakeFileSpec(P("a.txt"), "alpha v2\n", 0640)});
  ASSERT_TRUE(t2.ok()) << t2.error().ToString();
  auto t3 = executor.Run(txn_kind::kGrant, {}, {MakeFileSpec(P("solo.txt"), "solo\n")});
  ASSERT_TRUE(t3.ok()) << t3.error().ToString();

  // t1 cannot go before t2, which changed a.txt after it.
  auto early = executor.Rollback(*t1->txn_id);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(early.error().context().find("roll that one back first"), std::string::npos)
      << early.error().context();
  // t3 is independent: by id.
  auto by_id = executor.Rollback(*t3->txn_id);
  ASSERT_TRUE(by_id.ok()) << by_id.error().ToString();
  EXPECT_FALSE(journal_test::Exists(P("solo.txt")));
  // Rolling back a rolled-back or rollback transaction is refused.
  EXPECT_EQ(executor.Rollback(*t3->txn_id).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(executor.Rollback(by_id->rollback_txn_id).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(executor.Rollback(987654).error().code(), ErrorCode::kNotFound);

  // Last: t2, which puts a.txt v1 back.
  auto last = executor.RollbackLast();
  ASSERT_TRUE(last.ok()) << last.error().ToString();
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->target_txn_id, *t2->txn_id);
  EXPECT_EQ(DiffTrees(after_t1, SnapshotTree(tree_.path())), "");

  // All: only t1 is left.
  auto all = executor.RollbackAll(txn_kind::kUninstall);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].target_txn_id, *t1->txn_id);
  ASSERT_EQ((*all)[0].undone.size(), 3u);
  EXPECT_EQ((*all)[0].undone[0].spec.target, "file " + P("new/deeper/c.txt"));  // newest first
  EXPECT_EQ(DiffTrees(original, SnapshotTree(tree_.path())), "");
  EXPECT_FALSE(journal_test::Exists(P("new")));  // the folders the step created are gone

  auto nothing = executor.RollbackLast();
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
  auto txns = Transactions(executor);
  EXPECT_EQ(txns.front().kind, "uninstall");
  EXPECT_EQ(txns.front().rollback_of, *t1->txn_id);
  auto live = executor.journal().LiveSteps();
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE(live->empty());
}

TEST_F(ExecutorRunTest, UndoThatCannotCompleteKeepsWhatIsNotOursAndCanBeRetried) {
  const Tree original = SnapshotTree(tree_.path());
  Executor executor = OpenExecutor();
  auto t1 = executor.Run(txn_kind::kApply, {}, ThreeFiles("v1"));
  ASSERT_TRUE(t1.ok()) << t1.error().ToString();
  // Someone puts their own file into a folder the step created.
  journal_test::WriteTextFile(P("new/deeper/theirs.txt"), "not ours\n");

  auto blocked = executor.RollbackLast();
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(blocked.error().context().find("folder " + P("new/deeper")), std::string::npos)
      << blocked.error().context();
  EXPECT_NE(blocked.error().context().find("still in place:"), std::string::npos);
  EXPECT_EQ(ReadTextFile(P("new/deeper/theirs.txt")), "not ours\n");  // never deleted
  auto txns = Transactions(executor);
  ASSERT_EQ(txns.size(), 2u);
  EXPECT_EQ(txns[0].state, TxnState::kFailed);     // the rollback
  EXPECT_EQ(txns[1].state, TxnState::kCommitted);  // t1 stays, partly undone
  auto live = executor.journal().LiveSteps();
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->size(), 3u);  // c.txt's step failed its undo: still live, like a.txt and b.conf

  // Once the foreign file is gone, retrying finishes the job.
  const std::string theirs = P("new/deeper/theirs.txt");
  std::filesystem::remove(std::filesystem::path(std::u8string(theirs.begin(), theirs.end())));
  auto retried = executor.RollbackLast();
  ASSERT_TRUE(retried.ok()) << retried.error().ToString();
  EXPECT_EQ(DiffTrees(original, SnapshotTree(tree_.path())), "");
}

TEST_F(ExecutorRunTest, UnknownKindOrBadParamsChangeNothing) {
  const Tree before = SnapshotTree(tree_.path());
  Executor executor = OpenExecutor();
  std::vector<StepSpec> specs = ThreeFiles("v1");
  specs.push_back({"no.such.kind", "thing", nlohmann::json::object()});
  auto result = executor.Run(txn_kind::kApply, {}, specs);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  specs.back() = {kind::kFile, "file relative", {{"path", "relative.txt"}, {"content", "x"}}};
  result = executor.Run(txn_kind::kApply, {}, specs);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(result.error().context().find("absolute"), std::string::npos);
  EXPECT_EQ(DiffTrees(before, SnapshotTree(tree_.path())), "");
  EXPECT_TRUE(Transactions(executor).empty());
}

TEST_F(ExecutorRunTest, EmptyPlanChangesNothing) {
  Executor executor = OpenExecutor();
  auto result = executor.Run(txn_kind::kApply, {}, {});
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->changed);
  EXPECT_TRUE(Transactions(executor).empty());
}

// --- Recovery of transactions left open (journal rows written by hand, as a crash leaves them;
// crash_test.cc does the same with real crashes) -----------------------------------------------

class ExecutorRecoveryTest : public ExecutorRunTest {
 protected:
  // Journals `specs` as intended (with their real before-states), applies the first
  // `applied` of them for real, and marks `marked` of those applied; leaves the transaction open.
  std::int64_t LeaveOpen(const std::vector<StepSpec>& specs, size_t applied, size_t marked) {
    auto journal = Journal::Open(state_.path());
    EXPECT_TRUE(journal.ok());
    auto id = journal->BeginTransaction("apply", {}, static_cast<int>(specs.size()));
    EXPECT_TRUE(id.ok());
    for (size_t i = 0; i < specs.size(); ++i) {
      auto step = CreateFileStep(specs[i]);
      EXPECT_TRUE(step.ok());
      auto before = (*step)->CaptureBefore();
      EXPECT_TRUE(before.ok());
      EXPECT_TRUE(
          journal->InsertIntendedStep(*id, static_cast<int>(i + 1), specs[i], *before).ok());
      if (i < applied) EXPECT_TRUE((*step)->Apply().ok());
      if (i < marked) EXPECT_TRUE(journal->MarkStepApplied(*id, static_cast<int>(i + 1)).ok());
      if (i + 1 >= applied) break;
    }
    return *id;
  }
};

TEST_F(ExecutorRecoveryTest, PartlyAppliedIsRolledBack) {
  const Tree before = SnapshotTree(tree_.path());
  const auto id = LeaveOpen(ThreeFiles("v1"), 2, 1);  // 2 applied, 1 marked, 3rd never journaled
  Executor executor = OpenExecutor();
  ASSERT_EQ(executor.recovery().size(), 1u);
  EXPECT_EQ(executor.recovery()[0].txn_id, id);
  EXPECT_EQ(executor.recovery()[0].resolution, Resolution::kRolledBack);
  EXPECT_EQ(executor.recovery()[0].undone.size(), 2u);
  EXPECT_EQ(DiffTrees(before, SnapshotTree(tree_.path())), "");
  auto txn = executor.journal().GetTransaction(id);
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(txn->state, TxnState::kRolledBack);
  EXPECT_NE(txn->error.find("rolled back by recovery"), std::string::npos);
}

TEST_F(ExecutorRecoveryTest, FullyAppliedIsRolledForward) {
  const auto id = LeaveOpen(ThreeFiles("v1"), 3, 3);
  const Tree applied = SnapshotTree(tree_.path());
  Executor executor = OpenExecutor();
  ASSERT_EQ(executor.recovery().size(), 1u);
  EXPECT_EQ(executor.recovery()[0].resolution, Resolution::kRolledForward);
  EXPECT_EQ(DiffTrees(applied, SnapshotTree(tree_.path())), "");
  auto txn = executor.journal().GetTransaction(id);
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(txn->state, TxnState::kCommitted);
  // And it is now ours: the same plan is "no changes".
  auto again = executor.Run(txn_kind::kApply, {}, ThreeFiles("v1"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
}

TEST_F(ExecutorRecoveryTest, FullyAppliedButNoLongerVerifyingIsRolledBack) {
  const Tree before = SnapshotTree(tree_.path());
  LeaveOpen(ThreeFiles("v1"), 3, 3);
  journal_test::WriteTextFile(P("b.conf"), "changed after the crash\n");
  Executor executor = OpenExecutor();
  ASSERT_EQ(executor.recovery().size(), 1u);
  EXPECT_EQ(executor.recovery()[0].resolution, Resolution::kRolledBack);
  // Undo is "ensure as before": the edited file is removed too, since before it was absent.
  EXPECT_EQ(DiffTrees(before, SnapshotTree(tree_.path())), "");
}

}  // namespace
}  // namespace stockade::provision
