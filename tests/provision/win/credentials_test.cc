// The DPAPI credential file and kind::kCredentials. DPAPI round-trips for real under Wine; the
// file's DACL does not (Wine synthesises it from Unix mode bits), and NetUserSetInfo is not
// implemented there -- the tests assert that both are detected.
#include <windows.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "provision/win/credential_store.h"
#include "provision/win/credentials_step.h"
#include "provision/win/security.h"
#include "provision/win/sid.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

using testing::MakeStep;
using testing::Spec;

CredentialMap Sample() {
  CredentialMap credentials;
  credentials.emplace("stockade-offline", SecretString("Aa1!" + std::string(28, 'x')));
  credentials.emplace("stockade-online", SecretString("Zz9#short"));
  credentials.emplace("\xc3\xa9t\xc3\xa9-user", SecretString(std::string("a\0b\"c\\d", 7)));
  return credentials;
}

void ExpectSame(const CredentialMap& a, const CredentialMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [user, password] : a) {
    auto it = b.find(user);
    ASSERT_NE(it, b.end()) << user;
    EXPECT_EQ(it->second.value(), password.value()) << user;
  }
}

std::vector<std::string> FilesIn(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(Wide(folder)))) {
    names.push_back(Utf8(entry.path().filename().wstring()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(WinCredentialStore, DpapiRoundTrip) {
  const CredentialMap credentials = Sample();
  auto blob = ProtectCredentials(credentials);
  ASSERT_TRUE(blob.ok()) << blob.error().ToString();
  // Encrypted: the passwords do not appear in the blob.
  const std::string bytes(blob->begin(), blob->end());
  EXPECT_EQ(bytes.find("Zz9#short"), std::string::npos);
  EXPECT_EQ(bytes.find("STKC"), std::string::npos);
  auto back = UnprotectCredentials(*blob);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  ExpectSame(credentials, *back);
}

TEST(WinCredentialStore, TamperedBlobIsRefused) {
  auto blob = ProtectCredentials(Sample());
  STOCKADE_ASSERT_OK(blob);
  std::vector<BYTE> tampered = *blob;
  tampered[tampered.size() / 2] ^= 0x5A;
  auto back = UnprotectCredentials(tampered);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().code(), ErrorCode::kCrypto);
  EXPECT_NE(back.error().context().find("CryptUnprotectData"), std::string::npos);
  auto empty = UnprotectCredentials({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), ErrorCode::kCrypto);
}

TEST(WinCredentialStore, FileRoundTripLeavesNoTemporaries) {
  testing::TempFolder folder;
  const std::string path = folder.Child("credentials.bin");
  auto dacl = ParseSecuritySddl("D:P(A;;FA;;;SY)(A;;FA;;;BA)");
  STOCKADE_ASSERT_OK(dacl);
  STOCKADE_ASSERT_OK(WriteCredentialFile(path, Sample(), dacl->dacl));
  auto back = ReadCredentialFile(path);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  ExpectSame(Sample(), *back);
  // Overwrite with other content: replaced atomically, still one file.
  CredentialMap other;
  other.emplace("only", SecretString("Pw1!pw1!pw1!pw1!"));
  STOCKADE_ASSERT_OK(WriteCredentialFile(path, other, dacl->dacl));
  back = ReadCredentialFile(path);
  STOCKADE_ASSERT_OK(back);
  ExpectSame(other, *back);
  EXPECT_EQ(FilesIn(folder.path()), std::vector<std::string>{"credentials.bin"});
  auto missing = ReadCredentialFile(folder.Child("absent.bin"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(WinCredentialsStep, UnderWineDpapiIsRealButTheDaclAndPasswordChangeAreDetected) {
  STOCKADE_ONLY_UNDER_WINE("file DACLs are not stored and NetUserSetInfo is not implemented");
  testing::TempFolder folder;
  const std::string path = folder.Child("credentials.bin");
  // An account LSA resolves under Wine (new users never resolve there). Not the test user: Wine
  // maps the DACL's deny entries onto the file's Unix mode bits, which would lock the test out.
  const std::string user = "Guests";
  auto step = MakeStep(Spec(kind::kCredentials, "credentials",
                            {{"path", path}, {"users", {user}}, {"group", "Guests"}}));
  ASSERT_NE(step, nullptr);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_FALSE((*before)["existed"].get<bool>());

  Status applied = step->Apply();
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(applied.error().context().find("NetUserSetInfo"), std::string::npos)
      << applied.error().ToString();
  // The file was written first, and DPAPI round-trips for real.
  auto stored = ReadCredentialFile(path);
  ASSERT_TRUE(stored.ok()) << stored.error().ToString();
  ASSERT_EQ(stored->size(), 1u);
  ASSERT_EQ(stored->count(user), 1u);
  EXPECT_EQ(stored->at(user).value().size(), 32u);

  Status verified = step->Verify();
  ASSERT_FALSE(verified.ok()) << "the DACL Wine reports is not the one that was set";
  EXPECT_EQ(verified.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(verified.error().context().find("explicit ACEs"), std::string::npos)
      << verified.error().ToString();

  // A temporary left by a crash in the middle of the atomic write goes with the undo too.
  std::ofstream(std::filesystem::path(Wide(path + ".tmp-0123456789abcdef"))) << "partial";
  STOCKADE_ASSERT_OK(step->Undo(*before));
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  EXPECT_TRUE(FilesIn(folder.path()).empty());
  STOCKADE_ASSERT_OK(step->Undo(*before));
  STOCKADE_EXPECT_OK(step->VerifyUndone(*before));
}

TEST(WinCredentialsStep, DaclDeniesTheSandboxAndAdmitsOnlySystemAndAdministrators) {
  auto dacl = CredentialsStep::FileDacl("Guests", {"Guests"});
  ASSERT_TRUE(dacl.ok()) << dacl.error().ToString();
  ASSERT_EQ(dacl->size(), 4u);
  EXPECT_EQ((*dacl)[0].type, ACCESS_DENIED_ACE_TYPE);
  EXPECT_EQ((*dacl)[0].mask, kFullAccessMask);
  EXPECT_EQ((*dacl)[0].sid, "S-1-5-32-546");
  EXPECT_EQ(AceToString((*dacl)[2]), "(A;;0x1f01ff;;;S-1-5-18)");
  EXPECT_EQ(AceToString((*dacl)[3]), "(A;;0x1f01ff;;;S-1-5-32-544)");
  auto missing = CredentialsStep::FileDacl(testing::UniqueName("nosuch-"), {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(WinCredentialsStep, ParamsAreValidated) {
  StepRegistry registry;
  RegisterPlatformSteps(registry);
  for (const nlohmann::json& params :
       {nlohmann::json{{"users", {"a"}}, {"group", "g"}},
        nlohmann::json{{"path", "C:\\x"}, {"users", nlohmann::json::array()}, {"group", "g"}},
        nlohmann::json{{"path", "C:\\x"}, {"users", {"a", "a"}}, {"group", "g"}},
        nlohmann::json{{"path", "C:\\x"}, {"users", {"a"}}},
        nlohmann::json{
            {"path", "C:\\x"}, {"users", {"a"}}, {"group", "g"}, {"password_length", 8}}}) {
    auto step = registry.Create(Spec(kind::kCredentials, "credentials", params));
    ASSERT_FALSE(step.ok()) << params.dump();
    EXPECT_EQ(step.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(WinCredentialsStep, RealWindowsStoresWorkingPasswordsUnderAProtectedDacl) {
  STOCKADE_SKIP_UNDER_WINE("needs real accounts (NetUserAdd), NetUserSetInfo and stored DACLs");
  testing::TempFolder folder;
  const std::string path = folder.Child("credentials.bin");
  const std::string prefix = testing::UniqueName("stk");
  const std::string group = prefix + "-users";
  const std::string offline = prefix + "-offline";
  auto group_step = MakeStep(Spec(kind::kGroup, "group", {{"name", group}}));
  auto user_step = MakeStep(Spec(kind::kUser, "user", {{"name", offline}, {"group", group}}));
  auto group_before = group_step->CaptureBefore();
  auto user_before = user_step->CaptureBefore();
  ASSERT_TRUE(group_before.ok() && user_before.ok());
  STOCKADE_ASSERT_OK(group_step->Apply());
  STOCKADE_ASSERT_OK(user_step->Apply());

  auto step = MakeStep(Spec(kind::kCredentials, "credentials",
                            {{"path", path}, {"users", {offline}}, {"group", group}}));
  auto before = step->CaptureBefore();
  STOCKADE_ASSERT_OK(before);
  Status applied = step->Apply();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  Status verified = step->Verify();
  EXPECT_TRUE(verified.ok()) << verified.error().ToString();
  auto security = ReadFileSecurity(path, false);
  STOCKADE_ASSERT_OK(security);
  EXPECT_TRUE(security->dacl_protected);
  EXPECT_TRUE(HasAce(security->dacl, ACCESS_DENIED_ACE_TYPE, 0, kFullAccessMask,
                     ResolveLocalAccountSid(offline)->ToString(), true));
  // The stored password is the account's: a network logon is refused for a wrong password
  // with ERROR_LOGON_FAILURE, whatever the logon-right policy says otherwise.
  auto stored = ReadCredentialFile(path);
  STOCKADE_ASSERT_OK(stored);
  HANDLE token = nullptr;
  const BOOL logged_on =
      LogonUserW(Wide(offline).c_str(), L".", Wide(stored->at(offline).value()).c_str(),
                 LOGON32_LOGON_NETWORK, LOGON32_PROVIDER_DEFAULT, &token);
  const DWORD logon_error = logged_on ? 0 : GetLastError();
  if (token != nullptr) CloseHandle(token);
  EXPECT_NE(logon_error, static_cast<DWORD>(ERROR_LOGON_FAILURE));

  // A second run rotates the passwords; its undo brings the previous file back exactly.
  auto first_bytes = ReadFileBytes(path);
  auto rotate_before = step->CaptureBefore();
  STOCKADE_ASSERT_OK(rotate_before);
  STOCKADE_ASSERT_OK(step->Apply());
  STOCKADE_ASSERT_OK(step->Undo(*rotate_before));
  Status undone = step->VerifyUndone(*rotate_before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  EXPECT_EQ(*ReadFileBytes(path), *first_bytes);

  STOCKADE_ASSERT_OK(step->Undo(*before));
  STOCKADE_EXPECT_OK(step->VerifyUndone(*before));
  STOCKADE_EXPECT_OK(user_step->Undo(*user_before));
  STOCKADE_EXPECT_OK(group_step->Undo(*group_before));
}

}  // namespace
}  // namespace stockade::provision::win
