// The one-provisioner lock, within one process and between processes (the journal driver as the
// other provisioner): a second one waits up to its timeout, then fails clearly naming the holder's
// pid; a provisioner that crashes releases the lock with its process.
#include "provision/lock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "journal_test_support.h"
#include "provision/executor.h"
#include "provision/fault.h"
#include "provision/steps/file_step.h"

namespace stockade::provision {
namespace {

using journal_test::TempDir;
using Clock = std::chrono::steady_clock;

long long MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

TEST(LockTest, SecondHolderWaitsThenFailsNamingTheHolder) {
  TempDir state;
  auto first = ProvisionLock::Acquire(state.path(), std::chrono::milliseconds(0));
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->path(), ProvisionLock::PathFor(state.path()));
  // The holder's pid is in the file, readable while it is locked.
  EXPECT_EQ(journal_test::ReadTextFile(first->path()),
            std::to_string(journal_test::CurrentPid()) + "\n");

  const auto start = Clock::now();
  auto second = ProvisionLock::Acquire(state.path(), std::chrono::milliseconds(300));
  const long long waited = MillisSince(start);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kDatabaseBusy);
  EXPECT_NE(second.error().context().find("another stockade-provision (pid " +
                                          std::to_string(journal_test::CurrentPid()) + ") holds " +
                                          ProvisionLock::PathFor(state.path())),
            std::string::npos)
      << second.error().context();
  EXPECT_GE(waited, 290);
  EXPECT_LT(waited, 5000);

  // Released on destruction: the pid is cleared and the next one gets it at once.
  { ProvisionLock released = std::move(*first); }
  EXPECT_EQ(journal_test::ReadTextFile(ProvisionLock::PathFor(state.path())), "");
  auto third = ProvisionLock::Acquire(state.path(), std::chrono::milliseconds(0));
  EXPECT_TRUE(third.ok()) << third.error().ToString();
}

TEST(LockTest, ExecutorHoldsTheLockForItsLifetime) {
  TempDir state;
  fault::Configure({});
  ExecutorOptions options;
  options.state_dir = state.path();
  options.lock_timeout = std::chrono::milliseconds(0);
  auto executor = Executor::Open(options);
  ASSERT_TRUE(executor.ok()) << executor.error().ToString();
  auto other = Executor::Open(options);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), ErrorCode::kDatabaseBusy);
  { Executor done = std::move(*executor); }
  auto now_free = Executor::Open(options);
  EXPECT_TRUE(now_free.ok()) << now_free.error().ToString();
}

TEST(LockTest, AnotherProcessIsRefusedWithinItsTimeout) {
  TempDir state;
  auto held = ProvisionLock::Acquire(state.path(), std::chrono::milliseconds(0));
  ASSERT_TRUE(held.ok()) << held.error().ToString();
  const auto start = Clock::now();
  auto child = journal_test::RunChild({journal_test::DriverPath(), "recover", state.path()},
                                      {{"STOCKADE_LOCK_TIMEOUT_MS", "400"}});
  const long long took = MillisSince(start);
  EXPECT_EQ(child.exit_code, 1) << child.output;
  EXPECT_NE(child.output.find("result error E_DATABASE_BUSY another stockade-provision (pid " +
                              std::to_string(journal_test::CurrentPid()) + ") holds " +
                              ProvisionLock::PathFor(state.path())),
            std::string::npos)
      << child.output;
  EXPECT_NE(child.output.find("waited 400 ms"), std::string::npos) << child.output;
  EXPECT_GE(took, 390);
  EXPECT_LT(took, 10000);
}

TEST(LockTest, WaitsForAnotherProcessThenProceeds) {
  TempDir state;
  const std::string ready = state.Sub("ready");
  journal_test::ChildResult child;
  std::thread holder([&] {
    child = journal_test::RunChild(
        {journal_test::DriverPath(), "hold-lock", state.path(), "1500", ready}, {});
  });
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!journal_test::Exists(ready) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(journal_test::Exists(ready)) << "the child never took the lock";
  const std::string child_pid = journal_test::ReadTextFile(ProvisionLock::PathFor(state.path()));
  ASSERT_FALSE(child_pid.empty());
  EXPECT_NE(child_pid, std::to_string(journal_test::CurrentPid()) + "\n");

  // Too impatient: refused, naming the child.
  auto refused = ProvisionLock::Acquire(state.path(), std::chrono::milliseconds(100));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(
      refused.error().context().find("(pid " + child_pid.substr(0, child_pid.size() - 1) + ")"),
      std::string::npos)
      << refused.error().context();
  // Patient enough: gets it once the child lets go.
  const auto start = Clock::now();
  auto waited = ProvisionLock::Acquire(state.path(), std::chrono::milliseconds(20000));
  ASSERT_TRUE(waited.ok()) << waited.error().ToString();
  EXPECT_GT(MillisSince(start), 100);
  holder.join();
  EXPECT_EQ(child.exit_code, 0) << child.output;
  EXPECT_NE(child.output.find("result ok held"), std::string::npos) << child.output;
}

TEST(LockTest, CrashedProvisionerLeavesNoLockBehind) {
  TempDir state;
  TempDir tree;
  const std::string specs = state.Sub("specs.json");
  nlohmann::json list = nlohmann::json::array();
  StepSpec spec = MakeFileSpec(tree.Sub("x.txt"), "x\n");
  list.push_back({{"kind", spec.kind}, {"target", spec.target}, {"params", spec.params}});
  journal_test::WriteTextFile(specs, list.dump());
  auto child =
      journal_test::RunChild({journal_test::DriverPath(), "run", state.path(), "apply", specs},
                             {{"STOCKADE_CRASH_AT", "2"}});
  EXPECT_EQ(child.exit_code, fault::kCrashExitCode) << child.output;
  EXPECT_NE(child.output.find("fault injection: crash at point 2"), std::string::npos)
      << child.output;
  auto lock = ProvisionLock::Acquire(state.path(), std::chrono::milliseconds(0));
  EXPECT_TRUE(lock.ok()) << lock.error().ToString();
}

TEST(LockTest, MalformedTimeoutIsRefused) {
  TempDir state;
  auto child = journal_test::RunChild({journal_test::DriverPath(), "recover", state.path()},
                                      {{"STOCKADE_LOCK_TIMEOUT_MS", "soon"}});
  EXPECT_EQ(child.exit_code, 1) << child.output;
  EXPECT_NE(child.output.find("result error E_INVALID_ARGUMENT STOCKADE_LOCK_TIMEOUT_MS='soon'"),
            std::string::npos)
      << child.output;
}

}  // namespace
}  // namespace stockade::provision
