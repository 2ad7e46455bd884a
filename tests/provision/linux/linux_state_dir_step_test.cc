// The state folder step: owner, mode, ACLs, and a real access check as the sandbox users.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/linux/run_as.h"
#include "provision/linux/state_dir_step.h"
#include "tests/provision/linux/linux_steps_test_support.h"

namespace stockade::provision::linux_os {
namespace {

using testing::AclAndModeSnapshot;
using testing::RunOut;
using testing::RunStatus;

class LinuxStateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "needs root";
    prefix_ = testing::UniquePrefix();
    lock_ = std::make_unique<testing::SystemStateLock>();
    cleanup_ = std::make_unique<testing::PrefixCleanup>(prefix_);
    for (const StepSpec& s : testing::IdentitySpecs(prefix_)) testing::ApplySpec(s);
    auto creds = CredentialsOfUser(prefix_ + "-offline");
    ASSERT_TRUE(creds.ok());
    offline_ = *creds;
    tmp_ = std::make_unique<testing::TempDir>("state");
    state_ = tmp_->path() + "/state";
  }
  void TearDown() override {
    tmp_.reset();
    cleanup_.reset();
    lock_.reset();
  }

  StepSpec Spec(nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json params = {{"path", state_},
                             {"users", {prefix_ + "-offline", prefix_ + "-online"}}};
    params.update(extra);
    return {kind::kStateDir, "state " + state_, params};
  }
  std::unique_ptr<Step> Make(const StepSpec& spec) {
    auto step = StateDirStep::Create(spec);
    EXPECT_TRUE(step.ok()) << step.error().ToString();
    return step.ok() ? std::move(*step) : nullptr;
  }
  // Whether the offline user can list the folder / read a file in it (the kernel decides).
  std::string OfflineAccess(const std::string& file) {
    auto r = RunAs(offline_, [&]() {
      std::string out;
      int fd = open(state_.c_str(), O_RDONLY | O_DIRECTORY);
      out += fd >= 0 ? "list " : "nolist ";
      if (fd >= 0) close(fd);
      fd = open(file.c_str(), O_RDONLY);
      out += fd >= 0 ? "read" : "noread";
      if (fd >= 0) close(fd);
      return out;
    });
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : "?";
  }

  std::string prefix_;
  std::unique_ptr<testing::SystemStateLock> lock_;
  std::unique_ptr<testing::PrefixCleanup> cleanup_;
  Credentials offline_;
  std::unique_ptr<testing::TempDir> tmp_;
  std::string state_;
};

TEST_F(LinuxStateDirTest, CreatesAClosedFolderAndRemovesItWhenEmpty) {
  auto step = Make(Spec());
  auto applied0 = step->IsApplied();
  ASSERT_TRUE(applied0.ok());
  EXPECT_FALSE(*applied0);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_EQ((*before)["existed"], false);
  ASSERT_TRUE(step->Apply().ok());
  struct stat st;
  ASSERT_EQ(lstat(state_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  Status verified = step->Verify();
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  // A file like the journal, even world-readable, stays out of reach.
  int fd = open((state_ + "/journal.db").c_str(), O_CREAT | O_WRONLY, 0644);
  close(fd);
  EXPECT_EQ(OfflineAccess(state_ + "/journal.db"), "nolist noread");
  unlink((state_ + "/journal.db").c_str());
  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_NE(lstat(state_.c_str(), &st), 0) << "an empty folder we created is removed";
}

TEST_F(LinuxStateDirTest, HardensAnOpenFolderAndPutsItBackExactly) {
  ASSERT_EQ(mkdir(state_.c_str(), 0777), 0);
  ASSERT_EQ(chmod(state_.c_str(), 0777), 0);
  ASSERT_EQ(chown(state_.c_str(), 65534, 65534), 0);
  ASSERT_EQ(RunStatus({"/usr/bin/setfacl", "-m",
                       "u:" + std::to_string(offline_.uid) + ":rwx,d:u:65534:rwx", state_}),
            0);
  int fd = open((state_ + "/secret").c_str(), O_CREAT | O_WRONLY, 0644);
  close(fd);
  EXPECT_EQ(OfflineAccess(state_ + "/secret"), "list read");
  const std::string snapshot = AclAndModeSnapshot(tmp_->path());
  auto step = Make(Spec());
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ((*before)["existed"], true);
  EXPECT_FALSE((*before)["access_acl"].is_null());
  ASSERT_TRUE(step->Apply().ok());
  Status verified = step->Verify();
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(OfflineAccess(state_ + "/secret"), "nolist noread");
  std::string acl = RunOut({"/usr/bin/getfacl", "-n", "-p", state_});
  EXPECT_EQ(acl.find("user:" + std::to_string(offline_.uid)), std::string::npos) << acl;
  EXPECT_EQ(acl.find("default:"), std::string::npos) << acl;
  ASSERT_TRUE(step->Undo(nlohmann::json::parse(before->dump())).ok());
  ASSERT_TRUE(step->VerifyUndone(nlohmann::json::parse(before->dump())).ok());
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), snapshot);
}

TEST_F(LinuxStateDirTest, VerifyCatchesModeDriftAndReadableContents) {
  auto step = Make(Spec());
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_EQ(chmod(state_.c_str(), 0755), 0);
  Status drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("mode 0755"), std::string::npos)
      << drift.error().context();
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_TRUE(step->Verify().ok());

  // 0711 is allowed (a socket below can be reached by name), but then every file inside must
  // be closed too: the real access check run as the sandbox user finds a readable one.
  auto open_step = Make(Spec({{"mode", "0711"}}));
  ASSERT_TRUE(open_step->Apply().ok());
  ASSERT_TRUE(open_step->Verify().ok());
  int fd = open((state_ + "/audit.db").c_str(), O_CREAT | O_WRONLY, 0644);
  close(fd);
  drift = open_step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("can read " + state_ + "/audit.db"), std::string::npos)
      << drift.error().context();
  ASSERT_EQ(chmod((state_ + "/audit.db").c_str(), 0600), 0);
  EXPECT_TRUE(open_step->Verify().ok());
}

TEST_F(LinuxStateDirTest, AFolderHoldingDataIsKeptOnUndo) {
  auto step = Make(Spec());
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(step->Apply().ok());
  int fd = open((state_ + "/journal.db").c_str(), O_CREAT | O_WRONLY, 0600);
  close(fd);
  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  struct stat st;
  ASSERT_EQ(lstat((state_ + "/journal.db").c_str(), &st), 0);
}

TEST_F(LinuxStateDirTest, SymlinksAndOpenModesAreRefused) {
  ASSERT_EQ(mkdir((tmp_->path() + "/real").c_str(), 0700), 0);
  ASSERT_EQ(symlink((tmp_->path() + "/real").c_str(), state_.c_str()), 0);
  auto step = Make(Spec());
  Status s = step->Apply();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kPathInvalid);
  EXPECT_FALSE(step->Verify().ok());
  for (const char* mode : {"0777", "0755", "0770", "0600", "1700", "x"}) {
    EXPECT_FALSE(StateDirStep::Create(Spec({{"mode", mode}})).ok()) << mode;
  }
  EXPECT_TRUE(StateDirStep::Create(Spec({{"mode", "0750"}})).ok());
  EXPECT_TRUE(StateDirStep::Create(Spec({{"mode", 0700}})).ok());
  EXPECT_FALSE(StateDirStep::Create({kind::kStateDir, "s", {{"path", "/"}}}).ok());
}

TEST_F(LinuxStateDirTest, AnAncestorOthersCanWriteIsReported) {
  const std::string open_parent = tmp_->path() + "/open";
  ASSERT_EQ(mkdir(open_parent.c_str(), 0777), 0);
  ASSERT_EQ(chmod(open_parent.c_str(), 0777), 0);
  state_ = open_parent + "/state";
  auto step = Make(Spec());
  ASSERT_TRUE(step->Apply().ok());
  Status drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("which others can write"), std::string::npos)
      << drift.error().context();
  ASSERT_EQ(chmod(open_parent.c_str(), 01777), 0);  // sticky, like /tmp: fine
  EXPECT_TRUE(step->Verify().ok());
}

}  // namespace
}  // namespace stockade::provision::linux_os
