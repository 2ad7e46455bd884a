// kind::kWriteSid: a registry step, real under Wine -- create, read back, undo to the exact
// previous state, undo twice.
#include "provision/win/write_sid_step.h"

#include <windows.h>

#include "gtest/gtest.h"
#include "provision/win/registry.h"
#include "provision/win/sid.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

using testing::MakeStep;
using testing::Spec;

class WriteSidStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::Elevated()) GTEST_SKIP() << "HKLM writes need an elevated token";
    root_ = "SOFTWARE\\StockadeTest-" + testing::UniqueName("");
    key_ = root_ + "\\Stockade";
    auto sid = GenerateWriteSid();
    STOCKADE_ASSERT_OK(sid);
    sid_ = *sid;
  }
  void TearDown() override { RegDeleteTreeW(HKEY_LOCAL_MACHINE, Wide(root_).c_str()); }

  std::unique_ptr<Step> Make() {
    return MakeStep(Spec(kind::kWriteSid, "write SID", {{"sid", sid_}, {"key", key_}}));
  }

  std::string root_;
  std::string key_;
  std::string sid_;
};

TEST_F(WriteSidStepTest, AppliesVerifiesAndUndoesToNothing) {
  auto step = Make();
  ASSERT_NE(step, nullptr);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_TRUE((*before)["previous"].is_null());
  auto present = step->TargetPresent();
  STOCKADE_ASSERT_OK(present);
  EXPECT_FALSE(*present);
  auto applied = step->IsApplied();
  STOCKADE_ASSERT_OK(applied);
  EXPECT_FALSE(*applied);

  STOCKADE_ASSERT_OK(step->Apply());
  Status verified = step->Verify();
  EXPECT_TRUE(verified.ok()) << verified.error().ToString();
  // Read back independently of the step.
  auto stored = ReadPersistedWriteSid(key_);
  ASSERT_TRUE(stored.ok()) << stored.error().ToString();
  EXPECT_EQ(stored->value_or(""), sid_);
  applied = step->IsApplied();
  STOCKADE_ASSERT_OK(applied);
  EXPECT_TRUE(*applied);

  // A step rebuilt from the journaled spec (another process) sees the same state.
  auto rebuilt = Make();
  STOCKADE_EXPECT_OK(rebuilt->Verify());

  STOCKADE_ASSERT_OK(rebuilt->Undo(*before));
  Status undone = rebuilt->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  auto exists = RegKeyExists(root_);
  STOCKADE_ASSERT_OK(exists);
  EXPECT_FALSE(*exists) << "the keys the step created must be gone";
  // Undo is idempotent.
  STOCKADE_ASSERT_OK(rebuilt->Undo(*before));
  STOCKADE_EXPECT_OK(rebuilt->VerifyUndone(*before));
  Status verify_after = rebuilt->Verify();
  ASSERT_FALSE(verify_after.ok());
  EXPECT_EQ(verify_after.error().code(), ErrorCode::kVerificationFailed);
}

TEST_F(WriteSidStepTest, RestoresThePreviousValueExactly) {
  const RegValue previous{REG_SZ, RegStringValue("S-1-5-21-9-9-9-9").data};
  STOCKADE_ASSERT_OK(WriteRegValue(key_, kWriteSidValue, previous));
  STOCKADE_ASSERT_OK(WriteRegDword(key_, "InstallVersion", 3));
  auto step = Make();
  auto before = step->CaptureBefore();
  STOCKADE_ASSERT_OK(before);
  auto present = step->TargetPresent();
  STOCKADE_ASSERT_OK(present);
  EXPECT_TRUE(*present);
  STOCKADE_ASSERT_OK(step->Apply());
  STOCKADE_ASSERT_OK(step->Verify());
  STOCKADE_ASSERT_OK(step->Undo(*before));
  STOCKADE_ASSERT_OK(step->VerifyUndone(*before));
  auto restored = ReadRegValue(key_, kWriteSidValue);
  ASSERT_TRUE(restored.ok() && restored->has_value());
  EXPECT_EQ(**restored, previous);
  auto other = ReadRegValue(key_, "InstallVersion");
  STOCKADE_ASSERT_OK(other);
  EXPECT_TRUE(other->has_value());
}

TEST_F(WriteSidStepTest, VerifyReportsDrift) {
  auto step = Make();
  auto before = step->CaptureBefore();
  STOCKADE_ASSERT_OK(before);
  STOCKADE_ASSERT_OK(step->Apply());
  STOCKADE_ASSERT_OK(WriteRegString(key_, kWriteSidValue, "S-1-5-21-1-1-1-1"));
  Status verified = step->Verify();
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(verified.error().context().find(sid_), std::string::npos);
  EXPECT_NE(verified.error().context().find("S-1-5-21-1-1-1-1"), std::string::npos);
  STOCKADE_ASSERT_OK(WriteRegDword(key_, kWriteSidValue, 5));
  verified = step->Verify();
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().context().find("REG_SZ"), std::string::npos);
  STOCKADE_ASSERT_OK(step->Undo(*before));
  STOCKADE_EXPECT_OK(step->VerifyUndone(*before));
}

TEST_F(WriteSidStepTest, RefusesASidThatBelongsToAnAccount) {
  // The current user's SID has the same shape as a synthetic one (S-1-5-21-a-b-c-rid).
  HANDLE token = nullptr;
  ASSERT_TRUE(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token));
  BYTE buffer[256];
  DWORD size = 0;
  ASSERT_TRUE(GetTokenInformation(token, TokenUser, buffer, sizeof buffer, &size));
  CloseHandle(token);
  auto user = Sid::FromPsid(reinterpret_cast<TOKEN_USER*>(buffer)->User.Sid);
  STOCKADE_ASSERT_OK(user);
  if (!IsSyntheticWriteSid(user->ToString())) {
    GTEST_SKIP() << "the test user's SID " << user->ToString()
                 << " is not of the S-1-5-21-a-b-c-d form";
  }
  sid_ = user->ToString();
  auto step = Make();
  Status applied = step->Apply();
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code(), ErrorCode::kAlreadyExists);
  auto exists = RegKeyExists(root_);
  STOCKADE_ASSERT_OK(exists);
  EXPECT_FALSE(*exists) << "nothing may be written for a refused SID";
}

TEST(WriteSidStepParams, RejectsMalformedSids) {
  StepRegistry registry;
  RegisterPlatformSteps(registry);
  for (const nlohmann::json& params :
       {nlohmann::json::object(), nlohmann::json{{"sid", "S-1-5-32-544"}},
        nlohmann::json{{"sid", "S-1-5-21-1-2-3"}}, nlohmann::json{{"sid", 5}},
        nlohmann::json{{"sid", "S-1-5-21-1-2-3-4"}, {"key", ""}}}) {
    auto step = registry.Create(Spec(kind::kWriteSid, "write SID", params));
    ASSERT_FALSE(step.ok()) << params.dump();
    EXPECT_EQ(step.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(WriteSidPersisted, CorruptValueIsReported) {
  if (!testing::Elevated()) GTEST_SKIP() << "HKLM writes need an elevated token";
  const std::string key = "SOFTWARE\\StockadeTest-" + testing::UniqueName("");
  STOCKADE_ASSERT_OK(WriteRegString(key, kWriteSidValue, "not a sid"));
  auto read = ReadPersistedWriteSid(key);
  RegDeleteTreeW(HKEY_LOCAL_MACHINE, Wide(key).c_str());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code(), ErrorCode::kStateCorrupt);
  auto none = ReadPersistedWriteSid(key);
  STOCKADE_ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace stockade::provision::win
