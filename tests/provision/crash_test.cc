// Crash injection at every crash point (STOCKADE_CRASH_AT=N, N = 1, 2, ... until a run completes
// without crashing) of: an apply, an apply whose last step fails and is rolled back, a rollback
// of a committed transaction, and the recovery of each crashed apply (a second crash while
// recovering). Each run is the journal driver in a child process that really dies (std::_Exit);
// this process then recovers and asserts that the tree is byte-identical either to before the
// transaction or to its fully applied state, and that the journal agrees with the tree.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "journal_test_support.h"
#include "provision/executor.h"
#include "provision/fault.h"
#include "provision/steps/file_step.h"
#include "provision/steps/portable_steps.h"

namespace stockade::provision {
namespace {

using journal_test::ChildResult;
using journal_test::DiffTrees;
using journal_test::SnapshotTree;
using journal_test::TempDir;
using journal_test::Tree;

constexpr int kMaxPoints = 200;  // a loop that never completes is a bug, not a long test

// One isolated world: a state folder and a tree with an unrelated file and a committed first
// transaction (a.txt, sub/b.txt), ready for the transaction under test.
struct World {
  TempDir state;
  TempDir tree;
  std::string specs_file;

  World() {
    fault::Configure({});
    journal_test::WriteTextFile(tree.Sub("unrelated.txt"), "not ours\n");
    std::filesystem::create_directories(
        std::filesystem::path(std::u8string(tree.path().begin(), tree.path().end())) / "sub");
    original = SnapshotTree(tree.path());
    auto executor = Open();
    auto first = executor.Run(txn_kind::kApply, {},
                              {MakeFileSpec(tree.Sub("a.txt"), "alpha v1\n", 0644),
                               MakeFileSpec(tree.Sub("sub/b.txt"), "beta v1\n", 0600)});
    EXPECT_TRUE(first.ok()) << first.error().ToString();
    specs_file = state.Sub("specs.json");
    WriteSpecs(specs_file, Second());
  }

  // The transaction under test: two updates of our own files and two new files.
  std::vector<StepSpec> Second() const {
    return {MakeFileSpec(tree.Sub("a.txt"), "alpha v2, longer than before\n", 0640),
            MakeFileSpec(tree.Sub("sub/b.txt"), "", 0600),
            MakeFileSpec(tree.Sub("c.txt"), "gamma\n", 0444),
            MakeFileSpec(tree.Sub("deep/er/d.txt"), "delta\n", 0644, true)};
  }

  Executor Open() const {
    ExecutorOptions options;
    options.state_dir = state.path();
    RegisterPortableSteps(options.registry);
    options.lock_timeout = std::chrono::milliseconds(5000);
    auto executor = Executor::Open(std::move(options));
    if (!executor.ok()) ADD_FAILURE() << executor.error().ToString();
    return std::move(executor).value();
  }

  static void WriteSpecs(const std::string& file, const std::vector<StepSpec>& specs) {
    nlohmann::json list = nlohmann::json::array();
    for (const StepSpec& s : specs) {
      list.push_back({{"kind", s.kind}, {"target", s.target}, {"params", s.params}});
    }
    journal_test::WriteTextFile(file, list.dump());
  }

  ChildResult Driver(std::vector<std::string> args,
                     std::vector<std::pair<std::string, std::string>> env) const {
    args.insert(args.begin(), journal_test::DriverPath());
    env.push_back({"STOCKADE_LOCK_TIMEOUT_MS", "5000"});
    return journal_test::RunChild(args, env);
  }

  Tree original;  // before the first transaction
};

bool CrashedAt(const ChildResult& r, int n) {
  return r.output.find("fault injection: crash at point " + std::to_string(n) + " (") !=
         std::string::npos;
}

// After recovery: no transaction is open, and the tree matches the journal's verdict.
void ExpectConsistent(World& w, const Tree& before, const Tree& after, int n, int* rolled_forward,
                      int* rolled_back) {
  Executor executor = w.Open();
  auto open = executor.journal().OpenTransactions();
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty()) << "N=" << n;
  auto txns = executor.journal().ListTransactions();
  ASSERT_TRUE(txns.ok());
  ASSERT_GE(txns->size(), 2u);
  const TransactionRecord& second = (*txns)[0];
  const Tree now = SnapshotTree(w.tree.path());
  if (second.state == TxnState::kCommitted) {
    ++*rolled_forward;
    EXPECT_EQ(DiffTrees(after, now), "") << "N=" << n << ": committed but not fully applied";
  } else {
    ++*rolled_back;
    EXPECT_EQ(second.state, TxnState::kRolledBack) << "N=" << n;
    EXPECT_EQ(DiffTrees(before, now), "") << "N=" << n << ": rolled back but not as before";
  }
  // The journal is fit to go on: the plan applies (or is already applied), and rolling back
  // everything returns to the tree before the first transaction.
  auto rerun = executor.Run(txn_kind::kApply, {}, w.Second());
  ASSERT_TRUE(rerun.ok()) << "N=" << n << ": " << rerun.error().ToString();
  EXPECT_EQ(DiffTrees(after, SnapshotTree(w.tree.path())), "") << "N=" << n;
  auto all = executor.RollbackAll();
  ASSERT_TRUE(all.ok()) << "N=" << n << ": " << all.error().ToString();
  EXPECT_EQ(DiffTrees(w.original, SnapshotTree(w.tree.path())), "") << "N=" << n;
}

// The applied state of World::Second(), computed in-process once.
Tree ReferenceAfter(Tree* before) {
  World w;
  *before = SnapshotTree(w.tree.path());
  Executor executor = w.Open();
  auto run = executor.Run(txn_kind::kApply, {}, w.Second());
  EXPECT_TRUE(run.ok()) << run.error().ToString();
  return SnapshotTree(w.tree.path());
}

TEST(CrashTest, EveryCrashPointOfApply) {
  Tree before;
  const Tree after = ReferenceAfter(&before);
  ASSERT_NE(DiffTrees(before, after), "");
  int points = 0, forward = 0, back = 0;
  for (int n = 1; n <= kMaxPoints; ++n) {
    World w;
    auto r = w.Driver({"run", w.state.path(), "apply", w.specs_file},
                      {{"STOCKADE_CRASH_AT", std::to_string(n)}});
    if (!CrashedAt(r, n)) {
      EXPECT_EQ(r.exit_code, 0) << r.output;
      EXPECT_NE(r.output.find("result ok changed=1"), std::string::npos) << r.output;
      EXPECT_EQ(DiffTrees(after, SnapshotTree(w.tree.path())), "");
      break;
    }
    EXPECT_EQ(r.exit_code, fault::kCrashExitCode) << r.output;
    ++points;
    ExpectConsistent(w, before, after, n, &forward, &back);
  }
  // 1 (transaction opened) + 3 per step (intended, applied, journaled as applied).
  EXPECT_EQ(points, 1 + 3 * 4);
  EXPECT_EQ(forward, 1);  // only a crash after the last "applied" mark rolls forward
  EXPECT_EQ(back, points - 1);
  std::cout << "[crash points] apply: " << points << " (rolled forward " << forward
            << ", rolled back " << back << ")" << std::endl;
  ::testing::Test::RecordProperty("crash_points_apply", points);
}

TEST(CrashTest, EveryCrashPointOfAFailingApplyAndItsRollback) {
  Tree before;
  const Tree after = ReferenceAfter(&before);
  int points = 0, forward = 0, back = 0;
  for (int n = 1; n <= kMaxPoints; ++n) {
    World w;
    auto r = w.Driver({"run", w.state.path(), "apply", w.specs_file},
                      {{"STOCKADE_CRASH_AT", std::to_string(n)}, {"STOCKADE_FAIL_AT", "4"}});
    if (!CrashedAt(r, n)) {
      EXPECT_EQ(r.exit_code, 1) << r.output;
      EXPECT_NE(r.output.find("result error E_OS"), std::string::npos) << r.output;
      EXPECT_NE(r.output.find("undid 4 step(s)"), std::string::npos) << r.output;
      EXPECT_EQ(DiffTrees(before, SnapshotTree(w.tree.path())), "");
      break;
    }
    EXPECT_EQ(r.exit_code, fault::kCrashExitCode) << r.output;
    ++points;
    ExpectConsistent(w, before, after, n, &forward, &back);
  }
  // Forward: 1 + 3 * 3 + 1 (step 4 intended; its Apply fails). Rollback: 3 per step undone.
  EXPECT_EQ(points, 1 + 3 * 3 + 1 + 3 * 4);
  EXPECT_EQ(forward, 0);
  std::cout << "[crash points] failing apply + automatic rollback: " << points << std::endl;
  ::testing::Test::RecordProperty("crash_points_failed_apply", points);
}

TEST(CrashTest, EveryCrashPointOfARollback) {
  int points = 0;
  for (int n = 1; n <= kMaxPoints; ++n) {
    World w;
    const Tree before = SnapshotTree(w.tree.path());
    std::int64_t second_id = 0;
    {
      Executor executor = w.Open();
      auto run = executor.Run(txn_kind::kApply, {}, w.Second());
      ASSERT_TRUE(run.ok()) << run.error().ToString();
      second_id = *run->txn_id;
    }
    auto r =
        w.Driver({"rollback", w.state.path(), "last"}, {{"STOCKADE_CRASH_AT", std::to_string(n)}});
    if (!CrashedAt(r, n)) {
      EXPECT_EQ(r.exit_code, 0) << r.output;
      EXPECT_NE(r.output.find("result ok rolled_back=" + std::to_string(second_id) + ","),
                std::string::npos)
          << r.output;
      EXPECT_EQ(DiffTrees(before, SnapshotTree(w.tree.path())), "");
      break;
    }
    ++points;
    Executor executor = w.Open();
    ASSERT_EQ(executor.recovery().size(), 1u) << "N=" << n;
    EXPECT_EQ(executor.recovery()[0].resolution, Resolution::kRollbackCompleted) << "N=" << n;
    EXPECT_EQ(DiffTrees(before, SnapshotTree(w.tree.path())), "") << "N=" << n;
    auto second = executor.journal().GetTransaction(second_id);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->state, TxnState::kRolledBack) << "N=" << n;
    auto steps = executor.journal().Steps(second_id);
    ASSERT_TRUE(steps.ok());
    for (const StepRecord& s : *steps) EXPECT_EQ(s.state, StepState::kUndone) << "N=" << n;
  }
  EXPECT_EQ(points, 1 + 3 * 4);
  std::cout << "[crash points] rollback: " << points << std::endl;
  ::testing::Test::RecordProperty("crash_points_rollback", points);
}

TEST(CrashTest, CrashWhileRecoveringFromACrash) {
  Tree before;
  const Tree after = ReferenceAfter(&before);
  int first_crashes = 0, recovery_points = 0, forward = 0, back = 0;
  for (int n = 1; n <= kMaxPoints; ++n) {
    World w;
    auto r = w.Driver({"run", w.state.path(), "apply", w.specs_file},
                      {{"STOCKADE_CRASH_AT", std::to_string(n)}});
    if (!CrashedAt(r, n)) break;
    ++first_crashes;
    bool recovered = false;
    for (int m = 1; m <= kMaxPoints && !recovered; ++m) {
      auto rec = w.Driver({"recover", w.state.path()}, {{"STOCKADE_CRASH_AT", std::to_string(m)}});
      if (CrashedAt(rec, m)) {
        EXPECT_EQ(rec.exit_code, fault::kCrashExitCode) << rec.output;
        ++recovery_points;
        continue;
      }
      EXPECT_EQ(rec.exit_code, 0) << rec.output;
      EXPECT_NE(rec.output.find("result ok"), std::string::npos) << rec.output;
      recovered = true;
    }
    ASSERT_TRUE(recovered) << "N=" << n;
    ExpectConsistent(w, before, after, n, &forward, &back);
  }
  EXPECT_EQ(first_crashes, 13);
  EXPECT_GT(recovery_points, 0);
  std::cout << "[crash points] recovery interrupted again: " << recovery_points << " (after "
            << first_crashes << " first crashes)" << std::endl;
  ::testing::Test::RecordProperty("crash_points_recovery", recovery_points);
}

TEST(CrashTest, MalformedFaultVariableIsRefusedBeforeAnyChange) {
  World w;
  const Tree before = SnapshotTree(w.tree.path());
  auto r = w.Driver({"run", w.state.path(), "apply", w.specs_file}, {{"STOCKADE_CRASH_AT", "3x"}});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("result error E_INVALID_ARGUMENT STOCKADE_CRASH_AT='3x'"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(DiffTrees(before, SnapshotTree(w.tree.path())), "");
}

}  // namespace
}  // namespace stockade::provision
