// Linux specifics of the file step under the executor: exact mode bits (setuid, sticky) read back
// with stat(2), symlinks never followed at the target, followed in ancestors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "../journal_test_support.h"
#include "provision/executor.h"
#include "provision/fault.h"
#include "provision/steps/file_step.h"
#include "provision/steps/portable_steps.h"

namespace stockade::provision {
namespace {

using journal_test::TempDir;

class ExecutorFileStepLinuxTest : public ::testing::Test {
 protected:
  void SetUp() override { fault::Configure({}); }

  Executor Open() {
    ExecutorOptions options;
    options.state_dir = state_.path();
    RegisterPortableSteps(options.registry);
    options.lock_timeout = std::chrono::milliseconds(2000);
    auto executor = Executor::Open(std::move(options));
    if (!executor.ok()) ADD_FAILURE() << executor.error().ToString();
    return std::move(executor).value();
  }

  TempDir state_;
  TempDir tree_;
};

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return static_cast<unsigned>(st.st_mode) & 07777;
}

TEST_F(ExecutorFileStepLinuxTest, ExactModesAreAppliedAndRestored) {
  Executor executor = Open();
  const std::string path = tree_.Sub("tool");
  umask(077);  // fchmod must not depend on the umask
  auto t1 = executor.Run(txn_kind::kApply, {}, {MakeFileSpec(path, "#!/bin/sh\n", 04755)});
  umask(022);
  ASSERT_TRUE(t1.ok()) << t1.error().ToString();
  EXPECT_EQ(ModeOf(path), 04755u);
  auto t2 = executor.Run(txn_kind::kApply, {}, {MakeFileSpec(path, "#!/bin/sh\n", 01600)});
  ASSERT_TRUE(t2.ok()) << t2.error().ToString();
  EXPECT_TRUE(t2->changed);  // only the mode differs
  EXPECT_EQ(ModeOf(path), 01600u);
  auto back = executor.RollbackLast();
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(ModeOf(path), 04755u);
}

TEST_F(ExecutorFileStepLinuxTest, SymlinkAtTheTargetIsNeverFollowed) {
  const std::string victim = tree_.Sub("victim.txt");
  journal_test::WriteTextFile(victim, "precious\n");
  const std::string link = tree_.Sub("link.txt");
  ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0);
  Executor executor = Open();
  auto result = executor.Run(txn_kind::kApply, {}, {MakeFileSpec(link, "overwritten\n")});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(journal_test::ReadTextFile(victim), "precious\n");
  char target[256] = {};
  ASSERT_GT(readlink(link.c_str(), target, sizeof(target) - 1), 0);
  EXPECT_EQ(std::string(target), victim);
}

TEST_F(ExecutorFileStepLinuxTest, SymlinkedAncestorIsAnOrdinaryFolder) {
  const std::string real = tree_.Sub("real");
  ASSERT_EQ(mkdir(real.c_str(), 0755), 0);
  const std::string alias = tree_.Sub("alias");
  ASSERT_EQ(symlink(real.c_str(), alias.c_str()), 0);
  Executor executor = Open();
  auto result = executor.Run(
      txn_kind::kApply, {},
      {MakeFileSpec(alias + "/sub/unit.service", "[Unit]\n", 0644, /*create_parents=*/true)});
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(journal_test::ReadTextFile(real + "/sub/unit.service"), "[Unit]\n");
  auto back = executor.RollbackLast();
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_FALSE(journal_test::Exists(real + "/sub"));
  EXPECT_TRUE(journal_test::Exists(alias));
}

}  // namespace
}  // namespace stockade::provision
