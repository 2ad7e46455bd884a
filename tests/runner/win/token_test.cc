// Restricted tokens (runner/win/token.h). Wine hands back a token without the restricting SIDs
// (PLATFORM-NOTES.md): under Wine the read-back must catch that; the token's real properties are
// checked on real Windows only.
#include "runner/win/token.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "provision/win/win_util.h"
#include "tests/runner/win/win_runner_test_support.h"

namespace stockade::runner::win_os {
namespace {

// A synthetic SID of the write SID's shape that names no account.
Sid SyntheticSid() { return *Sid::FromString("S-1-5-21-1111111111-2222222222-3333333333-4444"); }

TEST(WinToken, ReadsTheUserOfTheOwnToken) {
  auto token = OpenOwnToken();
  ASSERT_TRUE(token.ok()) << token.error().ToString();
  auto user = TokenUserSid(token->get());
  ASSERT_TRUE(user.ok()) << user.error().ToString();
  // The same account LSA names for the process user.
  wchar_t name[256];
  DWORD size = 256;
  ASSERT_TRUE(GetUserNameW(name, &size));
  auto account = provision::win::LookupAccountByName(provision::win::Utf8(name));
  ASSERT_TRUE(account.ok() && account->has_value());
  EXPECT_EQ(user->ToString(), (*account)->sid.ToString());
  // An unrestricted token has no restricting SIDs; Wine cannot say (and says so).
  auto restricting = TokenRestrictingSids(token->get());
  if (testing::UnderWine()) {
    ASSERT_FALSE(restricting.ok()) << "Wine now reports TokenRestrictedSids: update the notes";
    EXPECT_EQ(restricting.error().code(), ErrorCode::kUnsupported);
  } else {
    ASSERT_TRUE(restricting.ok()) << restricting.error().ToString();
    EXPECT_TRUE(restricting->empty());
  }
}

TEST(WinToken, RefusesAnEmptyRestrictingList) {
  auto token = OpenOwnToken();
  ASSERT_TRUE(token.ok());
  auto restricted = MakeWriteRestrictedToken(token->get(), {});
  ASSERT_FALSE(restricted.ok());
  EXPECT_EQ(restricted.error().code(), ErrorCode::kInvalidArgument);
}

TEST(WinToken, UnderWineTheDroppedRestrictingSidsAreDetected) {
  if (!testing::UnderWine()) GTEST_SKIP() << "only Wine drops restricting SIDs";
  auto token = OpenOwnToken();
  ASSERT_TRUE(token.ok());
  auto restricted = MakeWriteRestrictedToken(token->get(), {SyntheticSid()});
  ASSERT_FALSE(restricted.ok()) << "Wine returned a restricted token: update the notes";
  EXPECT_EQ(restricted.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(restricted.error().context().find("S-1-5-21-1111111111"), std::string::npos)
      << restricted.error().ToString();
}

TEST(WinToken, UnderWineTheBestEffortCheckListsWhatCouldNotBeVerified) {
  if (!testing::UnderWine()) GTEST_SKIP() << "best effort is strict outside Wine";
  auto token = OpenOwnToken();
  ASSERT_TRUE(token.ok());
  auto restricted = MakeWriteRestrictedToken(token->get(), {SyntheticSid()}, std::nullopt,
                                             TokenCheck::kWineSelftestBestEffort);
  ASSERT_TRUE(restricted.ok()) << restricted.error().ToString();
  ASSERT_TRUE(restricted->token);
  // Wine reports neither the restricting SIDs nor a restricted token: both are listed.
  ASSERT_GE(restricted->unverified.size(), 2u);
  EXPECT_NE(restricted->unverified[0].find("S-1-5-21-1111111111"), std::string::npos);
  EXPECT_NE(restricted->unverified[0].find("cannot be read back"), std::string::npos);
  bool names_is_restricted = false;
  for (const auto& u : restricted->unverified) {
    names_is_restricted |= u.find("IsTokenRestricted") != std::string::npos;
  }
  EXPECT_TRUE(names_is_restricted);
}

TEST(WinToken, RealWindowsMakesAWriteRestrictedTokenWithoutPrivileges) {
  if (testing::UnderWine()) {
    GTEST_SKIP() << "Wine drops restricting SIDs and keeps privileges (real Windows only)";
  }
  auto token = OpenOwnToken();
  ASSERT_TRUE(token.ok());
  auto logon = TokenLogonSid(token->get());
  ASSERT_TRUE(logon.ok()) << logon.error().ToString();
  auto restricted = MakeWriteRestrictedToken(token->get(), {SyntheticSid(), *logon});
  ASSERT_TRUE(restricted.ok()) << restricted.error().ToString();
  EXPECT_TRUE(IsTokenRestricted(restricted->token.get()));
  auto sids = TokenRestrictingSids(restricted->token.get());
  ASSERT_TRUE(sids.ok());
  EXPECT_NE(std::find(sids->begin(), sids->end(), SyntheticSid()), sids->end());
  EXPECT_NE(std::find(sids->begin(), sids->end(), *logon), sids->end());
  auto everyone = Sid::WellKnown(WinWorldSid);
  ASSERT_TRUE(everyone.ok());
  EXPECT_EQ(std::find(sids->begin(), sids->end(), *everyone), sids->end());
  auto privileges = TokenPrivilegeNames(restricted->token.get());
  ASSERT_TRUE(privileges.ok());
  for (const auto& name : *privileges) EXPECT_EQ(name, "SeChangeNotifyPrivilege");
  EXPECT_TRUE(restricted->unverified.empty());
  // Outside Wine the best-effort check is the strict one: everything verified.
  auto best_effort = MakeWriteRestrictedToken(token->get(), {SyntheticSid(), *logon}, std::nullopt,
                                              TokenCheck::kWineSelftestBestEffort);
  ASSERT_TRUE(best_effort.ok()) << best_effort.error().ToString();
  EXPECT_TRUE(best_effort->unverified.empty());
}

}  // namespace
}  // namespace stockade::runner::win_os
