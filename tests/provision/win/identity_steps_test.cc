// kind::kGroup and kind::kUser. Under Wine the NetApi stubs "succeed" without creating anything
// the rest of the system can see: the tests assert that the read-back detects exactly that, and
// that undo still restores what is real there (the logon-screen registry value). The real
// creation is tested on Windows and reported skipped under Wine.
#include <windows.h>
// windows.h first: lm.h relies on its types.
#include <lm.h>

#include <cstring>

#include "gtest/gtest.h"
#include "provision/win/accounts.h"
#include "provision/win/group_step.h"
#include "provision/win/registry.h"
#include "provision/win/sid.h"
#include "provision/win/user_step.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

using testing::MakeStep;
using testing::Spec;

std::unique_ptr<Step> GroupStepFor(const std::string& name) {
  return MakeStep(Spec(kind::kGroup, "group " + name, {{"name", name}}));
}

std::unique_ptr<Step> UserStepFor(const std::string& name, const std::string& group) {
  return MakeStep(Spec(kind::kUser, "user " + name,
                       {{"name", name}, {"group", group}, {"identity", "offline"}}));
}

std::optional<DWORD> HiddenValue(const std::string& user) {
  auto value = ReadRegValue(kHiddenUsersKey, user);
  if (!value.ok() || !value->has_value() || (*value)->type != REG_DWORD) return std::nullopt;
  DWORD data = 0;
  std::memcpy(&data, (*value)->data.data(), sizeof data);
  return data;
}

TEST(WinGroupStep, UnderWineTheNonPersistentGroupFailsVerificationAndUndoes) {
  STOCKADE_ONLY_UNDER_WINE("NetLocalGroupAdd is a stub that stores nothing");
  const std::string name = testing::UniqueName("stk") + "-users";
  auto step = GroupStepFor(name);
  ASSERT_NE(step, nullptr);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_FALSE((*before)["existed"].get<bool>());

  Status applied = step->Apply();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();  // the stub reports success
  Status verified = step->Verify();
  ASSERT_FALSE(verified.ok()) << "the read-back must not trust NetLocalGroupAdd's NERR_Success";
  EXPECT_EQ(verified.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(verified.error().context().find("LookupAccountNameW"), std::string::npos)
      << verified.error().ToString();
  auto applied_state = step->IsApplied();
  STOCKADE_ASSERT_OK(applied_state);
  EXPECT_FALSE(*applied_state);

  STOCKADE_ASSERT_OK(step->Undo(*before));
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  STOCKADE_ASSERT_OK(step->Undo(*before));  // idempotent
  STOCKADE_EXPECT_OK(step->VerifyUndone(*before));
}

TEST(WinUserStep, UnderWineTheProcessLocalUserFailsVerificationAndUndoRestoresTheRegistry) {
  STOCKADE_ONLY_UNDER_WINE("NetUserAdd keeps the user inside the calling process");
  const std::string name = testing::UniqueName("stk") + "-offline";
  // A previous logon-screen value for this name: undo must put back exactly this, not delete it.
  // (`pristine` puts the prefix's registry back as it was before the test.)
  auto pristine = CaptureRegValue(kHiddenUsersKey, name);
  STOCKADE_ASSERT_OK(pristine);
  STOCKADE_ASSERT_OK(WriteRegDword(kHiddenUsersKey, name, 1));
  auto step = UserStepFor(name, "Users");
  ASSERT_NE(step, nullptr);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_FALSE((*before)["existed"].get<bool>());

  Status applied = step->Apply();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ(HiddenValue(name), std::optional<DWORD>(0)) << "the registry part is real under Wine";
  auto user = GetLocalUser(name);
  STOCKADE_ASSERT_OK(user);
  EXPECT_TRUE(user->has_value()) << "NetUserGetInfo sees the in-process user";

  Status verified = step->Verify();
  ASSERT_FALSE(verified.ok()) << "a user LSA cannot resolve must not verify";
  EXPECT_EQ(verified.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(verified.error().context().find("LookupAccountNameW"), std::string::npos)
      << verified.error().ToString();

  STOCKADE_ASSERT_OK(step->Undo(*before));
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  EXPECT_EQ(HiddenValue(name), std::optional<DWORD>(1)) << "previous value restored exactly";
  user = GetLocalUser(name);
  STOCKADE_ASSERT_OK(user);
  EXPECT_FALSE(user->has_value());
  STOCKADE_ASSERT_OK(step->Undo(*before));  // idempotent
  STOCKADE_EXPECT_OK(step->VerifyUndone(*before));

  STOCKADE_EXPECT_OK(RestoreRegValue(*pristine));
}

TEST(WinUserStep, UndoWithoutApplyLeavesNoRegistryKeysBehind) {
  if (!testing::Elevated()) GTEST_SKIP() << "HKLM writes need an elevated token";
  const std::string name = testing::UniqueName("stk") + "-online";
  auto step = UserStepFor(name, "Users");
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  // Crash recovery may undo a step whose Apply never ran.
  STOCKADE_ASSERT_OK(step->Undo(*before));
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  EXPECT_EQ(HiddenValue(name), std::nullopt);
}

TEST(WinIdentitySteps, ParamsAreValidated) {
  StepRegistry registry;
  RegisterPlatformSteps(registry);
  const std::pair<const char*, nlohmann::json> bad[] = {
      {kind::kGroup, nlohmann::json::object()},
      {kind::kGroup, {{"name", "a/b"}}},
      {kind::kGroup, {{"name", "..."}}},
      {kind::kUser, {{"name", "x"}}},                                      // no group
      {kind::kUser, {{"name", "twenty-one-characters"}, {"group", "g"}}},  // 21 > 20
      {kind::kUser, {{"name", "a@b"}, {"group", "g"}}},
      {kind::kUser, {{"name", "ok"}, {"group", "g"}, {"hidden", "yes"}}},
  };
  for (const auto& [kind_name, params] : bad) {
    auto step = registry.Create(Spec(kind_name, "t", params));
    ASSERT_FALSE(step.ok()) << kind_name << " " << params.dump();
    EXPECT_EQ(step.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(WinIdentitySteps, BuiltinNamesArePresentTargets) {
  // The executor refuses to take over a present target; a builtin group is one.
  auto group = GroupStepFor("Administrators");
  auto present = group->TargetPresent();
  ASSERT_TRUE(present.ok()) << present.error().ToString();
  EXPECT_TRUE(*present);
  auto user = UserStepFor("Administrators", "Users");
  auto before = user->CaptureBefore();
  ASSERT_FALSE(before.ok()) << "a local group's name must not be taken for a user";
  EXPECT_EQ(before.error().code(), ErrorCode::kAlreadyExists);
}

TEST(WinIdentitySteps, RealWindowsCreatesPersistentGroupAndUserAndRemovesThem) {
  STOCKADE_SKIP_UNDER_WINE("NetUserAdd / NetLocalGroupAdd must reach the SAM database");
  const std::string prefix = testing::UniqueName("stk");
  const std::string group_name = prefix + "-users";
  const std::string user_name = prefix + "-offline";
  auto group = GroupStepFor(group_name);
  auto user = UserStepFor(user_name, group_name);
  auto group_before = group->CaptureBefore();
  ASSERT_TRUE(group_before.ok()) << group_before.error().ToString();
  STOCKADE_ASSERT_OK(group->Apply());
  Status verified = group->Verify();
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  auto user_before = user->CaptureBefore();
  ASSERT_TRUE(user_before.ok()) << user_before.error().ToString();
  Status applied = user->Apply();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  verified = user->Verify();
  EXPECT_TRUE(verified.ok()) << verified.error().ToString();

  // Independent read-backs: LSA, the NetApi and the registry.
  auto account = LookupLocalAccount(user_name);
  ASSERT_TRUE(account.ok() && account->has_value());
  EXPECT_EQ((*account)->use, SidTypeUser);
  auto info = GetLocalUser(user_name);
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->privilege, static_cast<DWORD>(USER_PRIV_USER));
  EXPECT_NE((*info)->flags & UF_DONT_EXPIRE_PASSWD, 0u);
  auto members = LocalGroupMembers(group_name);
  STOCKADE_ASSERT_OK(members);
  ASSERT_EQ(members->size(), 1u);
  EXPECT_TRUE(members->front() == (*account)->sid);
  EXPECT_EQ(HiddenValue(user_name), std::optional<DWORD>(0));
  auto second = user->IsApplied();
  STOCKADE_ASSERT_OK(second);
  EXPECT_TRUE(*second);

  STOCKADE_ASSERT_OK(user->Undo(*user_before));
  Status undone = user->VerifyUndone(*user_before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  STOCKADE_ASSERT_OK(group->Undo(*group_before));
  undone = group->VerifyUndone(*group_before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  auto gone = LookupLocalAccount(user_name);
  STOCKADE_ASSERT_OK(gone);
  EXPECT_FALSE(gone->has_value());
  EXPECT_EQ(HiddenValue(user_name), std::nullopt);
}

}  // namespace
}  // namespace stockade::provision::win
