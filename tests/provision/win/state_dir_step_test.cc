// kind::kStateDir. Creating and removing the folder is real under Wine; its DACL is not stored
// there, which Verify must detect. The persisted DACL is tested on Windows.
#include "provision/win/state_dir_step.h"

#include <windows.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "provision/win/security.h"
#include "provision/win/sid.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

using testing::MakeStep;
using testing::Spec;

bool Exists(const std::string& path) { return FileAttributes(path).ok(); }

std::unique_ptr<Step> StateDir(const std::string& path, const std::string& group) {
  return MakeStep(Spec(kind::kStateDir, "state folder", {{"path", path}, {"group", group}}));
}

TEST(WinStateDirStep, UnderWineCreatesTheFolderButTheDaclIsDetectedAsNotStored) {
  STOCKADE_ONLY_UNDER_WINE("SetNamedSecurityInfoW does not store DACLs");
  testing::TempFolder parent;
  const std::string path = parent.Child("Stockade");
  auto step = StateDir(path, "Guests");
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_FALSE((*before)["existed"].get<bool>());
  EXPECT_EQ((*before)["sids"], nlohmann::json({"S-1-5-32-546"}));

  Status applied = step->Apply();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_TRUE(Exists(path));
  Status verified = step->Verify();
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(verified.error().context().find("state folder"), std::string::npos);

  STOCKADE_ASSERT_OK(step->Undo(*before));
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  EXPECT_FALSE(Exists(path)) << "an empty folder the step created is removed";
  STOCKADE_ASSERT_OK(step->Undo(*before));
  STOCKADE_EXPECT_OK(step->VerifyUndone(*before));
}

TEST(WinStateDirStep, AFolderStillHoldingStateIsKeptOnUndo) {
  if (!testing::Elevated()) GTEST_SKIP() << "needs an elevated token";
  testing::TempFolder parent;
  const std::string path = parent.Child("Stockade");
  auto step = StateDir(path, "Guests");
  auto before = step->CaptureBefore();
  STOCKADE_ASSERT_OK(before);
  STOCKADE_ASSERT_OK(step->Apply());
  std::ofstream(std::filesystem::path(Wide(path + "\\journal.db"))) << "state";
  STOCKADE_ASSERT_OK(step->Undo(*before));
  EXPECT_TRUE(Exists(path + "\\journal.db")) << "Stockade's own state is not deleted by undo";
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  auto security = ReadFileSecurity(path, false);
  STOCKADE_ASSERT_OK(security);
  EXPECT_FALSE(NamesAnySid(security->dacl, {"S-1-5-32-546"}));
}

TEST(WinStateDirStep, AnExistingFolderGetsItsSecurityBack) {
  if (!testing::Elevated()) GTEST_SKIP() << "needs an elevated token";
  testing::TempFolder folder;
  auto original = ReadFileSecurity(folder.path(), true);
  ASSERT_TRUE(original.ok()) << original.error().ToString();
  auto step = StateDir(folder.path(), "Guests");
  auto before = step->CaptureBefore();
  STOCKADE_ASSERT_OK(before);
  EXPECT_TRUE((*before)["existed"].get<bool>());
  EXPECT_EQ((*before)["sddl"], original->sddl);
  STOCKADE_ASSERT_OK(step->Apply());
  STOCKADE_ASSERT_OK(step->Undo(*before));
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  auto after = ReadFileSecurity(folder.path(), true);
  STOCKADE_ASSERT_OK(after);
  EXPECT_EQ(after->sddl, original->sddl);
  EXPECT_TRUE(Exists(folder.path()));
}

TEST(WinStateDirStep, RefusesALink) {
  const std::string link = testing::TestDataSymlink();
  if (link.empty())
    GTEST_SKIP() << "the checkout did not keep tests/data/provision-win/reparse-link";
  auto step = StateDir(link, "Guests");
  auto before = step->CaptureBefore();
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code(), ErrorCode::kPathInvalid);
  Status applied = step->Apply();
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code(), ErrorCode::kPathInvalid);
  EXPECT_NE(applied.error().context().find("reparse point"), std::string::npos);
}

TEST(WinStateDirStep, UnknownGroupIsNamed) {
  testing::TempFolder parent;
  const std::string group = testing::UniqueName("nosuch-");
  auto step = StateDir(parent.Child("Stockade"), group);
  auto before = step->CaptureBefore();
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(before.error().context().find(group), std::string::npos);
  auto applied = step->IsApplied();
  ASSERT_TRUE(applied.ok()) << "IsApplied answers false, not an error, before the group exists";
  EXPECT_FALSE(*applied);
}

TEST(WinStateDirStep, RealWindowsPersistsAProtectedAdministratorsOnlyDacl) {
  STOCKADE_SKIP_UNDER_WINE("the DACL must be stored by NTFS");
  testing::TempFolder parent;
  const std::string path = parent.Child("Stockade");
  auto step = StateDir(path, "Guests");
  auto before = step->CaptureBefore();
  STOCKADE_ASSERT_OK(before);
  STOCKADE_ASSERT_OK(step->Apply());
  Status verified = step->Verify();
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  auto security = ReadFileSecurity(path, true);
  STOCKADE_ASSERT_OK(security);
  EXPECT_TRUE(security->dacl_protected);
  EXPECT_TRUE(SameSid(security->owner, "BA"));
  // A file created inside inherits the deny entry.
  std::ofstream(std::filesystem::path(Wide(path + "\\journal.db"))) << "x";
  auto child = ReadFileSecurity(path + "\\journal.db", false);
  STOCKADE_ASSERT_OK(child);
  EXPECT_TRUE(HasAce(child->dacl, ACCESS_DENIED_ACE_TYPE, 0, kWriteRightsMask, "BG", false));
  std::filesystem::remove(std::filesystem::path(Wide(path + "\\journal.db")));
  STOCKADE_ASSERT_OK(step->Undo(*before));
  STOCKADE_EXPECT_OK(step->VerifyUndone(*before));
  EXPECT_FALSE(Exists(path));
}

}  // namespace
}  // namespace stockade::provision::win
