// The group and user steps against the real account database (root required).
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "provision/linux/accounts.h"
#include "provision/linux/group_step.h"
#include "provision/linux/user_step.h"
#include "tests/provision/linux/linux_steps_test_support.h"

namespace stockade::provision::linux_os {
namespace {

using testing::AccountFilesBytes;
using testing::IdentitySpecs;
using testing::PrefixCleanup;
using testing::RunOut;
using testing::RunStatus;
using testing::SystemStateLock;

class LinuxAccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "needs root";
    prefix_ = testing::UniquePrefix();
    lock_ = std::make_unique<SystemStateLock>();
    cleanup_ = std::make_unique<PrefixCleanup>(prefix_);
  }
  void TearDown() override {
    cleanup_.reset();  // before the lock is released
    lock_.reset();
  }

  std::unique_ptr<Step> Make(const StepSpec& spec) {
    StepRegistry registry;
    RegisterPlatformSteps(registry);
    auto step = registry.Create(spec);
    EXPECT_TRUE(step.ok()) << step.error().ToString();
    return step.ok() ? std::move(*step) : nullptr;
  }

  std::string prefix_;
  std::unique_ptr<SystemStateLock> lock_;
  std::unique_ptr<PrefixCleanup> cleanup_;
};

// getent passwd NAME, split on ':' (read through NSS by another program, not by our code).
std::vector<std::string> GetentFields(const std::string& db, const std::string& name) {
  std::string line = RunOut({"/usr/bin/getent", db, name});
  std::vector<std::string> out;
  std::string field;
  for (char c : line) {
    if (c == ':' || c == '\n') {
      out.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  return out;
}

TEST_F(LinuxAccountsTest, ApplyThenUndoLeavesTheEightAccountFilesByteIdentical) {
  auto before_files = AccountFilesBytes();
  std::vector<StepSpec> specs = IdentitySpecs(prefix_);
  std::vector<nlohmann::json> befores;
  for (const StepSpec& spec : specs) befores.push_back(testing::ApplySpec(spec));

  // Read back by other tools.
  auto group = GetentFields("group", prefix_ + "-users");
  ASSERT_GE(group.size(), 3u);
  long gid = std::stol(group[2]);
  EXPECT_GT(gid, 0);
  EXPECT_LT(gid, 1000);
  for (const char* who : {"-offline", "-online"}) {
    auto pw = GetentFields("passwd", prefix_ + who);
    ASSERT_EQ(pw.size(), 7u) << prefix_ << who;
    EXPECT_GT(std::stol(pw[2]), 0);
    EXPECT_LT(std::stol(pw[2]), 1000);
    EXPECT_EQ(std::stol(pw[3]), gid);
    EXPECT_EQ(pw[5], "/nonexistent");
    EXPECT_EQ(pw[6], "/usr/sbin/nologin");
    EXPECT_EQ(RunOut({"/usr/bin/id", "-G", prefix_ + who}), std::to_string(gid) + "\n");
    auto sp = GetentFields("shadow", prefix_ + who);
    ASSERT_GE(sp.size(), 2u);
    EXPECT_EQ(sp[1].substr(0, 1), "!") << "password must be locked";
  }
  EXPECT_NE(AccountFilesBytes(), before_files);

  for (size_t i = specs.size(); i-- > 0;) testing::UndoSpec(specs[i], befores[i]);
  EXPECT_EQ(RunStatus({"/usr/bin/getent", "passwd", prefix_ + "-offline"}), 2);
  EXPECT_EQ(RunStatus({"/usr/bin/getent", "group", prefix_ + "-users"}), 2);
  auto after_files = AccountFilesBytes();
  for (const auto& [path, bytes] : before_files) {
    EXPECT_EQ(after_files[path], bytes) << path << " is not byte-identical after undo";
  }
}

TEST_F(LinuxAccountsTest, SecondApplyChangesNothingAndIsApplied) {
  std::vector<StepSpec> specs = IdentitySpecs(prefix_);
  for (const StepSpec& spec : specs) {
    auto step = Make(spec);
    ASSERT_TRUE(step);
    auto applied = step->IsApplied();
    ASSERT_TRUE(applied.ok());
    EXPECT_FALSE(*applied);
    auto present = step->TargetPresent();
    ASSERT_TRUE(present.ok());
    EXPECT_FALSE(*present);
    testing::ApplySpec(spec);
  }
  auto files = AccountFilesBytes();
  for (const StepSpec& spec : specs) {
    auto step = Make(spec);
    auto applied = step->IsApplied();
    ASSERT_TRUE(applied.ok());
    EXPECT_TRUE(*applied) << spec.target;
    EXPECT_TRUE(step->Apply().ok());
  }
  EXPECT_EQ(AccountFilesBytes(), files) << "a re-run Apply must not touch the account files";
}

TEST_F(LinuxAccountsTest, VerifyNamesEachKindOfDrift) {
  std::vector<StepSpec> specs = IdentitySpecs(prefix_);
  for (const StepSpec& spec : specs) testing::ApplySpec(spec);
  auto group_step = Make(specs[0]);
  auto user_step = Make(specs[1]);
  const std::string user = prefix_ + "-offline";

  ASSERT_EQ(RunStatus({"/usr/sbin/usermod", "-s", "/bin/bash", user}), 0);
  Status s = user_step->Verify();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(s.error().context().find("shell /bin/bash"), std::string::npos) << s.error().context();
  ASSERT_EQ(RunStatus({"/usr/sbin/usermod", "-s", "/usr/sbin/nologin", user}), 0);
  EXPECT_TRUE(user_step->Verify().ok());

  ASSERT_EQ(RunStatus({"/usr/sbin/usermod", "-a", "-G", "audio", user}), 0);
  s = user_step->Verify();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().context().find("also a member of group"), std::string::npos)
      << s.error().context();
  ASSERT_EQ(RunStatus({"/usr/bin/gpasswd", "-d", user, "audio"}), 0);
  EXPECT_TRUE(user_step->Verify().ok());

  ASSERT_EQ(RunStatus({"/usr/bin/gpasswd", "-a", prefix_ + "-online", prefix_ + "-users"}), 0);
  s = group_step->Verify();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().context().find("supplementary members (" + prefix_ + "-online)"),
            std::string::npos)
      << s.error().context();

  ASSERT_EQ(RunStatus({"/usr/sbin/usermod", "-p", "$6$abc$def", prefix_ + "-offline"}), 0);
  s = user_step->Verify();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().context().find("usable password"), std::string::npos);

  ASSERT_EQ(RunStatus({"/usr/sbin/userdel", prefix_ + "-online"}), 0);
  s = Make(specs[2])->Verify();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().context().find("does not exist"), std::string::npos);
}

TEST_F(LinuxAccountsTest, UserdelRefusalWhileTheUserRunsAProcessIsReportedClearly) {
  std::vector<StepSpec> specs = IdentitySpecs(prefix_);
  std::vector<nlohmann::json> befores;
  for (const StepSpec& spec : specs) befores.push_back(testing::ApplySpec(spec));
  uid_t uid = static_cast<uid_t>(testing::UidOf(prefix_ + "-offline"));
  gid_t gid = static_cast<gid_t>(testing::GidOf(prefix_ + "-users"));
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
      _exit(1);
    }
    (void)!write(ready[1], "x", 1);
    for (;;) pause();
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);

  auto step = Make(specs[1]);
  Status s = step->Undo(befores[1]);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(s.error().context().find(std::to_string(child)), std::string::npos)
      << s.error().context();
  EXPECT_FALSE(step->VerifyUndone(befores[1]).ok()) << "the user is still there";

  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_TRUE(step->Undo(befores[1]).ok());
  EXPECT_TRUE(step->VerifyUndone(befores[1]).ok());
  testing::UndoSpec(specs[2], befores[2]);
  testing::UndoSpec(specs[0], befores[0]);
}

TEST_F(LinuxAccountsTest, AForeignAccountOfTheSameNameIsNeverAdopted) {
  const std::string name = prefix_ + "-offline";
  std::vector<StepSpec> specs = IdentitySpecs(prefix_);
  testing::ApplySpec(specs[0]);
  ASSERT_EQ(RunStatus({"/usr/sbin/useradd", "-M", "-s", "/bin/bash", name}), 0);
  auto step = Make(specs[1]);
  auto present = step->TargetPresent();
  ASSERT_TRUE(present.ok());
  EXPECT_TRUE(*present);
  auto applied = step->IsApplied();
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  Status s = step->Apply();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(testing::UidOf(name) >= 1000, true) << "the foreign user is untouched";
}

TEST_F(LinuxAccountsTest, UndoWithoutApplyChangesNothing) {
  std::vector<StepSpec> specs = IdentitySpecs(prefix_);
  auto step = Make(specs[0]);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  auto files = AccountFilesBytes();
  EXPECT_TRUE(step->Undo(*before).ok());
  EXPECT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_EQ(AccountFilesBytes(), files);
}

TEST_F(LinuxAccountsTest, UserStepNeedsItsGroup) {
  auto step = Make(IdentitySpecs(prefix_)[1]);
  Status s = step->Apply();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(testing::UidOf(prefix_ + "-offline"), -1);
}

TEST(LinuxAccountsUnitTest, FactoriesRejectBadParams) {
  EXPECT_FALSE(GroupStep::Create({kind::kGroup, "g", {{"name", "Bad Name"}}}).ok());
  EXPECT_FALSE(GroupStep::Create({kind::kGroup, "g", nlohmann::json::object()}).ok());
  EXPECT_FALSE(
      UserStep::Create({kind::kUser, "u", {{"name", "ok"}, {"group", "g"}, {"identity", "other"}}})
          .ok());
  EXPECT_FALSE(UserStep::Create({kind::kUser, "u", {{"name", "ok"}}}).ok());
  EXPECT_FALSE(
      UserStep::Create({kind::kUser, "u", {{"name", "ok"}, {"group", "g"}, {"shell", "sh"}}}).ok());
  EXPECT_TRUE(UserStep::Create({kind::kUser, "u", {{"name", "ok"}, {"group", "g"}}}).ok());
}

TEST(LinuxAccountsUnitTest, Base64RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len < 8; ++len) {
    std::string s = all.substr(0, len);
    auto back = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(*Base64Decode(Base64Encode(all)), all);
  EXPECT_FALSE(Base64Decode("Zm9=v").has_value());
  EXPECT_FALSE(Base64Decode("Z===").has_value());
  EXPECT_FALSE(Base64Decode("Zm!v").has_value());
}

TEST(LinuxAccountsUnitTest, SnapshotSurvivesAJsonRoundTrip) {
  auto snap = SnapshotAccountFiles();
  ASSERT_TRUE(snap.ok()) << snap.error().ToString();
  auto back = AccountSnapshot::FromJson(nlohmann::json::parse(snap->ToJson().dump()));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->FirstDifference(*snap), "");
  EXPECT_TRUE(back->MainFilesEqual(*snap));
  nlohmann::json bad = snap->ToJson();
  bad[0]["base64"] = "!!";
  EXPECT_EQ(AccountSnapshot::FromJson(bad).error().code(), ErrorCode::kStateCorrupt);
}

}  // namespace
}  // namespace stockade::provision::linux_os
