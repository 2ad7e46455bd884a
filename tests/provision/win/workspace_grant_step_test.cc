// kind::kWorkspaceGrant. Under Wine the ACEs are not stored: Verify must say so. On Windows the
// grant is checked end to end, including that children inherit the ACE without this code
// walking the tree, and that a second grant makes no security write at all.
#include "provision/win/workspace_grant_step.h"

#include <windows.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "provision/win/security.h"
#include "provision/win/write_sid_step.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

using testing::MakeStep;
using testing::Spec;

class WorkspaceGrantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::Elevated()) GTEST_SKIP() << "needs an elevated token";
    auto sid = GenerateWriteSid();
    STOCKADE_ASSERT_OK(sid);
    sid_ = *sid;
    root_ = folder_.Child("project");
    std::filesystem::create_directories(std::filesystem::path(Wide(root_ + "\\.git\\objects")));
    std::filesystem::create_directories(std::filesystem::path(Wide(root_ + "\\src")));
    std::ofstream(std::filesystem::path(Wide(root_ + "\\src\\main.c"))) << "int main(){}";
  }

  WorkspaceGrantStep* Make(nlohmann::json params) {
    step_ = MakeStep(Spec(kind::kWorkspaceGrant, "grant", std::move(params)));
    return dynamic_cast<WorkspaceGrantStep*>(step_.get());
  }
  nlohmann::json Params() const {
    return {{"path", root_}, {"sid", sid_}, {"protected", {".git", ".codex"}}};
  }

  testing::TempFolder folder_;
  std::string root_;
  std::string sid_;
  std::unique_ptr<Step> step_;
};

TEST_F(WorkspaceGrantTest, UnderWineTheGrantIsDetectedAsNotStored) {
  STOCKADE_ONLY_UNDER_WINE("SetNamedSecurityInfoW does not store DACLs");
  WorkspaceGrantStep* step = Make(Params());
  ASSERT_NE(step, nullptr);
  ASSERT_EQ(step->protected_paths().size(), 2u);
  EXPECT_EQ(step->protected_paths()[0], root_ + "\\.git");
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_TRUE((*before)["protected"][0]["sddl"].is_string());
  EXPECT_TRUE((*before)["protected"][1]["sddl"].is_null()) << ".codex does not exist";

  Status applied = step->Apply();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  // One write for .git, one for the root; .codex does not exist; nothing else.
  EXPECT_EQ(step->security_writes(), 2);
  Status verified = step->Verify();
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(verified.error().context().find("does not grant " + sid_), std::string::npos)
      << verified.error().ToString();

  STOCKADE_ASSERT_OK(step->Undo(*before));
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  // Wine reads back what it read before: nothing to restore, no write.
  EXPECT_EQ(step->security_writes(), 0);
}

TEST_F(WorkspaceGrantTest, RefusesALinkedWorkspace) {
  const std::string link = testing::TestDataSymlink();
  if (link.empty())
    GTEST_SKIP() << "the checkout did not keep tests/data/provision-win/reparse-link";
  WorkspaceGrantStep* step = Make({{"path", link}, {"sid", sid_}});
  auto before = step->CaptureBefore();
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code(), ErrorCode::kPathInvalid);
  Status applied = step->Apply();
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code(), ErrorCode::kPathInvalid);
  EXPECT_NE(applied.error().context().find("FILE_ATTRIBUTE_REPARSE_POINT"), std::string::npos);
  EXPECT_EQ(step->security_writes(), 0);
}

TEST_F(WorkspaceGrantTest, ProtectedPathsMustLieInsideTheRoot) {
  StepRegistry registry;
  RegisterPlatformSteps(registry);
  for (const nlohmann::json& bad_protected :
       {nlohmann::json{"..\\elsewhere"}, nlohmann::json{"C:\\Windows"}, nlohmann::json{"."},
        nlohmann::json{root_}}) {
    auto step =
        registry.Create(Spec(kind::kWorkspaceGrant, "grant",
                             {{"path", root_}, {"sid", sid_}, {"protected", bad_protected}}));
    ASSERT_FALSE(step.ok()) << bad_protected.dump();
  }
  auto relative_root =
      registry.Create(Spec(kind::kWorkspaceGrant, "grant", {{"path", "project"}, {"sid", sid_}}));
  ASSERT_FALSE(relative_root.ok());
  auto bad_sid =
      registry.Create(Spec(kind::kWorkspaceGrant, "grant", {{"path", root_}, {"sid", "nobody"}}));
  ASSERT_FALSE(bad_sid.ok());
  EXPECT_EQ(bad_sid.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(WorkspaceGrantTest, UnknownGroupMakesIsAppliedFalseAndCaptureFail) {
  const std::string group = testing::UniqueName("nosuch-");
  nlohmann::json params = Params();
  params["group"] = group;
  WorkspaceGrantStep* step = Make(params);
  auto applied = step->IsApplied();
  STOCKADE_ASSERT_OK(applied);
  EXPECT_FALSE(*applied);
  auto before = step->CaptureBefore();
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code(), ErrorCode::kNotFound);
}

TEST_F(WorkspaceGrantTest, RealWindowsGrantsOnceInheritsAndRevokesExactly) {
  STOCKADE_SKIP_UNDER_WINE("the DACL must be stored and inherited by NTFS");
  auto original = ReadFileSecurity(root_, false);
  STOCKADE_ASSERT_OK(original);
  WorkspaceGrantStep* step = Make(Params());
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  STOCKADE_ASSERT_OK(step->Apply());
  EXPECT_EQ(step->security_writes(), 2);
  Status verified = step->Verify();
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();

  // Children carry the ACE by inheritance; this code wrote only the root and .git.
  auto child = ReadFileSecurity(root_ + "\\src\\main.c", false);
  STOCKADE_ASSERT_OK(child);
  bool inherited = false;
  for (const Ace& ace : child->dacl) {
    inherited = inherited || (ace.inherited() && ace.type == ACCESS_ALLOWED_ACE_TYPE &&
                              SameSid(ace.sid, sid_) && (ace.mask & kModifyMask) == kModifyMask);
  }
  EXPECT_TRUE(inherited) << child->sddl;
  auto git_object = ReadFileSecurity(root_ + "\\.git\\objects", false);
  STOCKADE_ASSERT_OK(git_object);
  EXPECT_TRUE(HasAce(git_object->dacl, ACCESS_DENIED_ACE_TYPE, kInheritToAll, kWriteRightsMask,
                     sid_, false))
      << git_object->sddl;

  // A second grant: already applied, and Apply writes nothing.
  auto again = step->IsApplied();
  ASSERT_TRUE(again.ok() && *again);
  STOCKADE_ASSERT_OK(step->Apply());
  EXPECT_EQ(step->security_writes(), 0);
  // A nested workspace inherits the grant: no write to it at all.
  std::filesystem::create_directories(std::filesystem::path(Wide(root_ + "\\src\\inner")));
  WorkspaceGrantStep* nested = Make({{"path", root_ + "\\src\\inner"}, {"sid", sid_}});
  STOCKADE_ASSERT_OK(nested->Apply());
  EXPECT_EQ(nested->security_writes(), 0);

  step = Make(Params());
  STOCKADE_ASSERT_OK(step->Undo(*before));
  EXPECT_EQ(step->security_writes(), 2);
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  auto restored = ReadFileSecurity(root_, false);
  STOCKADE_ASSERT_OK(restored);
  EXPECT_EQ(restored->sddl, original->sddl);
  child = ReadFileSecurity(root_ + "\\src\\main.c", false);
  STOCKADE_ASSERT_OK(child);
  EXPECT_FALSE(NamesAnySid(child->dacl, {sid_})) << child->sddl;
  STOCKADE_ASSERT_OK(step->Undo(*before));
  EXPECT_EQ(step->security_writes(), 0) << "a second revoke finds nothing to write";
}

}  // namespace
}  // namespace stockade::provision::win
