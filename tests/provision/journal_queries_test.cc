// The journal's rows and the queries other modules rely on: transactions newest first, a
// transaction's steps in order, "live" steps (applied in a committed transaction and not undone
// since), unresolved steps of failed transactions, timestamps, JSON round trips.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "journal_test_support.h"
#include "provision/journal/journal.h"

namespace stockade::provision {
namespace {

using journal_test::TempDir;

StepSpec Spec(const std::string& target, int version = 1) {
  return StepSpec{"file", target, {{"path", target}, {"version", version}}};
}

class JournalQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto journal = Journal::Open(dir_.path());
    ASSERT_TRUE(journal.ok()) << journal.error().ToString();
    journal_.emplace(std::move(*journal));
  }

  // A transaction whose steps all reach `step_state`, finished as `txn_state`.
  std::int64_t AddTxn(const std::string& kind, const std::vector<StepSpec>& specs,
                      TxnState txn_state, StepState step_state = StepState::kApplied) {
    auto id = journal_->BeginTransaction(kind, {{"k", kind}}, static_cast<int>(specs.size()));
    EXPECT_TRUE(id.ok()) << id.error().ToString();
    int seq = 0;
    for (const StepSpec& spec : specs) {
      ++seq;
      EXPECT_TRUE(journal_->InsertIntendedStep(*id, seq, spec, {{"exists", false}}).ok());
      if (step_state != StepState::kIntended) {
        EXPECT_TRUE(journal_->MarkStepApplied(*id, seq).ok());
      }
      if (step_state == StepState::kUndone) {
        EXPECT_TRUE(journal_->MarkStepUndoIntended(*id, seq, *id).ok());
        EXPECT_TRUE(journal_->MarkStepUndone(*id, seq).ok());
      }
    }
    if (txn_state != TxnState::kOpen) {
      EXPECT_TRUE(journal_->FinishTransaction(*id, txn_state, "").ok());
    }
    return *id;
  }

  TempDir dir_;
  std::optional<Journal> journal_;
};

TEST_F(JournalQueriesTest, TransactionsNewestFirstWithTheirFields) {
  const auto a = AddTxn("apply", {Spec("/a")}, TxnState::kCommitted);
  const auto b = AddTxn("grant", {Spec("/b")}, TxnState::kRolledBack, StepState::kUndone);
  auto failed = journal_->BeginTransaction("revoke", {{"dir", "/w"}}, 3);
  ASSERT_TRUE(failed.ok());
  ASSERT_TRUE(journal_->FinishTransaction(*failed, TxnState::kFailed, "it broke").ok());

  auto txns = journal_->ListTransactions();
  ASSERT_TRUE(txns.ok()) << txns.error().ToString();
  ASSERT_EQ(txns->size(), 3u);
  EXPECT_EQ((*txns)[0].id, *failed);
  EXPECT_EQ((*txns)[1].id, b);
  EXPECT_EQ((*txns)[2].id, a);
  EXPECT_EQ((*txns)[0].kind, "revoke");
  EXPECT_EQ((*txns)[0].args, nlohmann::json({{"dir", "/w"}}));
  EXPECT_EQ((*txns)[0].state, TxnState::kFailed);
  EXPECT_EQ((*txns)[0].error, "it broke");
  EXPECT_EQ((*txns)[0].planned_steps, 3);
  EXPECT_EQ((*txns)[1].state, TxnState::kRolledBack);
  EXPECT_EQ((*txns)[2].state, TxnState::kCommitted);
  const std::regex utc(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (const TransactionRecord& t : *txns) {
    EXPECT_TRUE(std::regex_match(t.started_at, utc)) << t.started_at;
    EXPECT_TRUE(std::regex_match(t.ended_at, utc)) << t.ended_at;
    EXPECT_LE(t.started_at, t.ended_at);
  }
  auto got = journal_->GetTransaction(b);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->kind, "grant");
  auto missing = journal_->GetTransaction(9999);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(JournalQueriesTest, StepsInOrderWithStatesAndTimestamps) {
  auto id = journal_->BeginTransaction("apply", nlohmann::json::object(), 3);
  ASSERT_TRUE(id.ok());
  const nlohmann::json before = {
      {"exists", true}, {"content_b64", "AAEC"}, {"mode", 420}, {"nested", {{"list", {1, 2, 3}}}}};
  ASSERT_TRUE(journal_->InsertIntendedStep(*id, 1, Spec("/one"), before).ok());
  ASSERT_TRUE(journal_->InsertIntendedStep(*id, 2, Spec("/two"), before).ok());
  ASSERT_TRUE(journal_->InsertIntendedStep(*id, 3, Spec("/three"), before).ok());
  ASSERT_TRUE(journal_->MarkStepApplied(*id, 1).ok());
  ASSERT_TRUE(journal_->MarkStepApplied(*id, 2).ok());
  ASSERT_TRUE(journal_->MarkStepFailed(*id, 3, "apply failed").ok());
  ASSERT_TRUE(journal_->MarkStepUndoIntended(*id, 2, *id).ok());

  auto steps = journal_->Steps(*id);
  ASSERT_TRUE(steps.ok()) << steps.error().ToString();
  ASSERT_EQ(steps->size(), 3u);
  EXPECT_EQ((*steps)[0].seq, 1);
  EXPECT_EQ((*steps)[0].spec.target, "/one");
  EXPECT_EQ((*steps)[0].spec.params, Spec("/one").params);
  EXPECT_EQ((*steps)[0].before, before);
  EXPECT_EQ((*steps)[0].state, StepState::kApplied);
  EXPECT_FALSE((*steps)[0].applied_at.empty());
  EXPECT_TRUE((*steps)[0].undone_at.empty());
  EXPECT_EQ((*steps)[1].state, StepState::kUndoIntended);
  EXPECT_EQ((*steps)[1].undo_txn, *id);
  EXPECT_FALSE((*steps)[1].undo_intended_at.empty());
  EXPECT_EQ((*steps)[2].state, StepState::kFailed);
  EXPECT_EQ((*steps)[2].error, "apply failed");

  // A step cannot be journaled twice at one position.
  EXPECT_FALSE(journal_->InsertIntendedStep(*id, 1, Spec("/dup"), before).ok());
  // Marking a step that does not exist is an error, not a silent no-op.
  EXPECT_FALSE(journal_->MarkStepApplied(*id, 42).ok());
  EXPECT_FALSE(journal_->FinishTransaction(4242, TxnState::kCommitted).ok());
}

TEST_F(JournalQueriesTest, LiveStepsAreAppliedInCommittedAndNotUndone) {
  const auto t1 = AddTxn("apply", {Spec("/a"), Spec("/b")}, TxnState::kCommitted);
  AddTxn("apply", {Spec("/c")}, TxnState::kRolledBack, StepState::kUndone);
  AddTxn("apply", {Spec("/d")}, TxnState::kOpen);
  const auto t4 = AddTxn("grant", {Spec("/a", 2)}, TxnState::kCommitted);
  // Roll back /b of t1 only (an interrupted rollback that undid one step).
  ASSERT_TRUE(journal_->MarkStepUndoIntended(t1, 2, t4).ok());
  ASSERT_TRUE(journal_->MarkStepUndone(t1, 2).ok());

  auto live = journal_->LiveSteps();
  ASSERT_TRUE(live.ok()) << live.error().ToString();
  ASSERT_EQ(live->size(), 2u);
  EXPECT_EQ((*live)[0].txn_id, t1);
  EXPECT_EQ((*live)[0].spec.target, "/a");
  EXPECT_EQ((*live)[1].txn_id, t4);
  EXPECT_EQ((*live)[1].spec.target, "/a");

  auto newest = journal_->FindLiveStep("file", "/a");
  ASSERT_TRUE(newest.ok());
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->txn_id, t4);
  EXPECT_EQ((*newest)->spec.params["version"], 2);
  for (const char* target : {"/b", "/c", "/d", "/nope"}) {
    auto none = journal_->FindLiveStep("file", target);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value()) << target;
  }
  auto other_kind = journal_->FindLiveStep("identity.user", "/a");
  ASSERT_TRUE(other_kind.ok());
  EXPECT_FALSE(other_kind->has_value());

  // A step whose undo failed in an unfinished rollback is still live (it may be on the system).
  ASSERT_TRUE(journal_->MarkStepFailed(t1, 1, "undo failed").ok());
  auto still = journal_->FindLiveStep("file", "/a");
  ASSERT_TRUE(still.ok());
  live = journal_->LiveSteps();
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->size(), 2u);
}

TEST_F(JournalQueriesTest, UnresolvedStepsBelongToFailedTransactions) {
  const auto failed = AddTxn("apply", {Spec("/x"), Spec("/y")}, TxnState::kFailed);
  ASSERT_TRUE(journal_->MarkStepUndoIntended(failed, 2, failed).ok());
  ASSERT_TRUE(journal_->MarkStepUndone(failed, 2).ok());
  AddTxn("apply", {Spec("/z")}, TxnState::kCommitted);

  auto unresolved = journal_->UnresolvedSteps();
  ASSERT_TRUE(unresolved.ok());
  ASSERT_EQ(unresolved->size(), 1u);
  EXPECT_EQ((*unresolved)[0].spec.target, "/x");
  auto x = journal_->FindUnresolvedStep("file", "/x");
  ASSERT_TRUE(x.ok());
  EXPECT_TRUE(x->has_value());
  auto z = journal_->FindUnresolvedStep("file", "/z");
  ASSERT_TRUE(z.ok());
  EXPECT_FALSE(z->has_value());
  auto live = journal_->LiveSteps();
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].spec.target, "/z");
}

TEST_F(JournalQueriesTest, OpenTransactionsAndRollbackLink) {
  const auto target = AddTxn("apply", {Spec("/a")}, TxnState::kCommitted);
  auto rollback = journal_->BeginTransaction("rollback", {{"rollback_of", target}}, 1, target);
  ASSERT_TRUE(rollback.ok());
  auto open = journal_->OpenTransactions();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].id, *rollback);
  EXPECT_EQ((*open)[0].rollback_of, target);

  ASSERT_TRUE(journal_->FinishRollback(*rollback, target).ok());
  open = journal_->OpenTransactions();
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
  auto t = journal_->GetTransaction(target);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->state, TxnState::kRolledBack);
  auto r = journal_->GetTransaction(*rollback);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, TxnState::kCommitted);
  EXPECT_FALSE(r->ended_at.empty());
}

TEST_F(JournalQueriesTest, ParamsThatAreNotUtf8AreRefusedNotStored) {
  auto id = journal_->BeginTransaction("apply", nlohmann::json::object(), 1);
  ASSERT_TRUE(id.ok());
  StepSpec bad{"file", "/bad", {{"content", std::string("\xff\xfe", 2)}}};
  Status s = journal_->InsertIntendedStep(*id, 1, bad, nlohmann::json::object());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument) << s.error().ToString();
  auto steps = journal_->Steps(*id);
  ASSERT_TRUE(steps.ok());
  EXPECT_TRUE(steps->empty());
}

TEST_F(JournalQueriesTest, DamagedJsonInARowIsStateCorrupt) {
  const auto id = AddTxn("apply", {Spec("/a")}, TxnState::kCommitted);
  ASSERT_TRUE(
      journal_->database().Exec("UPDATE steps SET before = '{not json' WHERE seq = 1").ok());
  auto steps = journal_->Steps(id);
  ASSERT_FALSE(steps.ok());
  EXPECT_EQ(steps.error().code(), ErrorCode::kStateCorrupt);
  EXPECT_NE(steps.error().context().find("step 1 of transaction"), std::string::npos)
      << steps.error().context();
}

TEST_F(JournalQueriesTest, StateNamesAreStable) {
  EXPECT_EQ(TxnStateName(TxnState::kOpen), "open");
  EXPECT_EQ(TxnStateName(TxnState::kCommitted), "committed");
  EXPECT_EQ(TxnStateName(TxnState::kRolledBack), "rolled_back");
  EXPECT_EQ(TxnStateName(TxnState::kFailed), "failed");
  EXPECT_EQ(StepStateName(StepState::kIntended), "intended");
  EXPECT_EQ(StepStateName(StepState::kApplied), "applied");
  EXPECT_EQ(StepStateName(StepState::kUndoIntended), "undo_intended");
  EXPECT_EQ(StepStateName(StepState::kUndone), "undone");
  EXPECT_EQ(StepStateName(StepState::kFailed), "failed");
}

}  // namespace
}  // namespace stockade::provision
