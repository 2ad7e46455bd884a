// ProcessTree (runner/win/launcher.h) end to end. Under Wine the restricted token cannot be made
// (restricting SIDs dropped), so the launch must refuse rather than start an unrestricted tree;
// what the restricted tree may and may not do is checked on real Windows only. The job-object
// mechanics under it are tested for real under Wine in job_tree_test.cc.
#include "runner/win/launcher.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "provision/win/win_util.h"
#include "tests/runner/win/win_runner_test_support.h"

namespace stockade::runner::win_os {
namespace {

namespace pw = stockade::provision::win;
using namespace std::chrono_literals;

std::string TempFolder() {
  wchar_t temp[MAX_PATH + 1];
  const DWORD n = GetTempPathW(MAX_PATH + 1, temp);
  std::string folder = pw::Utf8(std::wstring_view(temp, n));
  if (!folder.empty() && folder.back() == '\\') folder.pop_back();
  return folder;
}

LaunchSpec ProbeSpec(const std::vector<std::string>& args) {
  LaunchSpec spec;
  spec.argv = {"stockade_win_probe"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  wchar_t root[MAX_PATH];
  const DWORD n = GetEnvironmentVariableW(L"SystemRoot", root, MAX_PATH);
  spec.env = {"PATH=" + pw::Utf8(testing::TestBinaryFolder()),
              "SystemRoot=" + pw::Utf8(std::wstring_view(root, n))};
  spec.cwd = pw::Utf8(testing::TestBinaryFolder());
  spec.identity.same_user = true;
  spec.timeout = 30s;
  return spec;
}

TEST(WinLauncher, RefusesAMalformedSpecOrAMissingProgramBeforeAnyToken) {
  LaunchSpec posix = ProbeSpec({"exit", "0"});
  posix.cwd = "/work/ws";
  auto bad = ProcessTree::Launch(posix, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);

  LaunchSpec missing = ProbeSpec({});
  missing.argv = {"no_such_program_here"};
  auto not_found = ProcessTree::Launch(missing, {});
  ASSERT_FALSE(not_found.ok());
  EXPECT_EQ(not_found.error().code(), ErrorCode::kNotFound);
}

TEST(WinLauncher, AProvisionedLaunchWithoutCredentialsFailsNamingTheIdentity) {
  LaunchSpec spec = ProbeSpec({"exit", "0"});
  spec.identity = {};
  spec.identity.name = "stockade-test-nobody";
  LaunchOptions options;
  options.write_sid = "S-1-5-21-1111111111-2222222222-3333333333-4444";
  options.credential_file = TempFolder() + "\\stockade-no-such-credentials.bin";
  auto tree = ProcessTree::Launch(spec, options);
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.error().code(), ErrorCode::kNotFound) << tree.error().ToString();
  EXPECT_NE(tree.error().context().find("stockade-test-nobody"), std::string::npos)
      << tree.error().ToString();
}

TEST(WinLauncher, UnderWineTheUnprovisionedLaunchRefusesAnUnrestrictedToken) {
  if (!testing::UnderWine()) GTEST_SKIP() << "Wine-specific: real Windows restricts the token";
  const auto before = testing::SystemProcessIds().size();
  auto tree = ProcessTree::Launch(ProbeSpec({"sleep", "10000"}), {});
  ASSERT_FALSE(tree.ok()) << "Wine launched a tree: its token must have been restricted";
  EXPECT_EQ(tree.error().code(), ErrorCode::kVerificationFailed) << tree.error().ToString();
  EXPECT_NE(tree.error().context().find("restricting SIDs"), std::string::npos);
  // Nothing was started: the token is checked before CreateProcessAsUserW.
  EXPECT_LE(testing::SystemProcessIds().size(), before);
}

// The selftest's exception (LaunchOptions::token_check): under Wine, and for the caller's own
// token only, the tree starts with a token that could not be verified, and says what was not.
TEST(WinLauncher, UnderWineTheSelftestsBestEffortLaunchRunsAndReportsTheUnverifiedToken) {
  if (!testing::UnderWine()) GTEST_SKIP() << "Wine-specific: real Windows verifies the token";
  testing::Pipe out = testing::MakePipe();
  LaunchOptions options;
  options.stdout_handle = out.write.get();
  options.token_check = TokenCheck::kWineSelftestBestEffort;
  auto tree = ProcessTree::Launch(ProbeSpec({"exit", "7"}), options);
  ASSERT_TRUE(tree.ok()) << tree.error().ToString();
  out.write.reset();
  ASSERT_FALSE(tree->token_unverified().empty());
  EXPECT_NE(tree->token_unverified().front().find("restricting SIDs cannot be read back"),
            std::string::npos)
      << tree->token_unverified().front();
  auto status = tree->Wait();
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(status->code, 7);
}

TEST(WinLauncher, TheBestEffortTokenCheckNeverAppliesToAProvisionedLaunch) {
  // A provisioned launch ignores it: it fails on the missing credentials, as without it.
  LaunchSpec spec = ProbeSpec({"exit", "0"});
  spec.identity = {};
  spec.identity.name = "stockade-test-nobody";
  LaunchOptions options;
  options.write_sid = "S-1-5-21-1111111111-2222222222-3333333333-4444";
  options.credential_file = TempFolder() + "\\stockade-no-such-credentials.bin";
  options.token_check = TokenCheck::kWineSelftestBestEffort;
  auto tree = ProcessTree::Launch(spec, options);
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.error().code(), ErrorCode::kNotFound) << tree.error().ToString();
}

TEST(WinLauncher, RealWindowsUnprovisionedTreeCannotWriteTheUsersFiles) {
  if (testing::UnderWine()) GTEST_SKIP() << "Wine does not restrict tokens (real Windows only)";
  const std::string target = TempFolder() + "\\stockade-launcher-write-test.txt";
  // Control: the user itself can write there.
  {
    HANDLE f =
        CreateFileW(pw::Wide(target).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, 0, nullptr);
    ASSERT_NE(f, INVALID_HANDLE_VALUE) << "control: the user cannot write its temp folder";
    CloseHandle(f);
    DeleteFileW(pw::Wide(target).c_str());
  }
  testing::Pipe out = testing::MakePipe();
  LaunchOptions options;
  options.stdout_handle = out.write.get();
  options.write_sid = "S-1-5-21-1111111111-2222222222-3333333333-4444";  // granted nowhere
  auto tree = ProcessTree::Launch(ProbeSpec({"write", target}), options);
  ASSERT_TRUE(tree.ok()) << tree.error().ToString();
  out.write.reset();
  EXPECT_EQ(tree->restricting_sids().size(), 2u);
  const auto lines = testing::ReadLines(out.read.get(), 1, 20s);
  auto status = tree->Wait();
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines.front(), "write-error 5");
  EXPECT_EQ(GetFileAttributesW(pw::Wide(target).c_str()), INVALID_FILE_ATTRIBUTES);
}

TEST(WinLauncher, RealWindowsProvisionedIdentityRunsRestricted) {
  const char* identity = std::getenv("STOCKADE_TEST_WIN_IDENTITY");
  if (testing::UnderWine() || identity == nullptr || *identity == '\0') {
    GTEST_SKIP() << "needs real Windows, an elevated LocalSystem-like token and a provisioned "
                    "identity named by STOCKADE_TEST_WIN_IDENTITY (with the machine's credential "
                    "file and write SID in place)";
  }
  testing::Pipe out = testing::MakePipe();
  LaunchOptions options;
  options.stdout_handle = out.write.get();
  options.no_window = true;
  LaunchSpec spec = ProbeSpec({"exit", "3"});
  spec.identity = {};
  spec.identity.name = identity;
  auto tree = ProcessTree::Launch(spec, options);
  ASSERT_TRUE(tree.ok()) << tree.error().ToString();
  out.write.reset();
  auto status = tree->Wait();
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(status->code, 3);
  ASSERT_EQ(tree->restricting_sids().size(), 2u);
  EXPECT_EQ(tree->restricting_sids()[1].rfind("S-1-5-5-", 0), 0u);  // the logon SID
}

}  // namespace
}  // namespace stockade::runner::win_os
