// SIDs, ACEs, ACLs and SDDL: the conversions the steps journal their before-states with. These
// are real under Wine (advapi32's SID and SDDL code), so every assertion here runs for real.
#include <windows.h>
// windows.h first: sddl.h relies on its types.
#include <sddl.h>

#include <set>

#include "gtest/gtest.h"
#include "provision/win/security.h"
#include "provision/win/sid.h"
#include "provision/win/write_sid_step.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

TEST(WinSid, ParsesAndFormatsAccountAndAliasSids) {
  for (const char* text :
       {"S-1-5-18", "S-1-5-32-544", "S-1-5-21-1-2-3-4", "S-1-5-21-4294967295-0-123456789-1001"}) {
    auto sid = Sid::FromString(text);
    ASSERT_TRUE(sid.ok()) << text;
    EXPECT_EQ(sid->ToString(), text);
    auto copy = Sid::FromPsid(sid->get());
    STOCKADE_ASSERT_OK(copy);
    EXPECT_TRUE(*copy == *sid);
  }
  auto admins = Sid::FromString("BA");
  STOCKADE_ASSERT_OK(admins);
  EXPECT_EQ(admins->ToString(), "S-1-5-32-544");
  auto well_known = Sid::WellKnown(WinLocalSystemSid);
  STOCKADE_ASSERT_OK(well_known);
  EXPECT_EQ(well_known->ToString(), "S-1-5-18");
  EXPECT_TRUE(SameSid("SY", "S-1-5-18"));
  EXPECT_FALSE(SameSid("SY", "S-1-5-32-544"));
  EXPECT_FALSE(SameSid("not a sid", "not a sid"));
}

TEST(WinSid, RejectsMalformedSids) {
  for (const char* text : {"", "S-1", "S-x-5", "hello", "S-1-5-21-x"}) {
    auto sid = Sid::FromString(text);
    ASSERT_FALSE(sid.ok()) << "'" << text << "'";
    EXPECT_EQ(sid.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(sid.error().context().find("ConvertStringSidToSidW"), std::string::npos);
  }
}

TEST(WinSid, SyntheticWriteSidShape) {
  EXPECT_TRUE(IsSyntheticWriteSid("S-1-5-21-1-2-3-4"));
  EXPECT_TRUE(IsSyntheticWriteSid("S-1-5-21-4294967295-0-0-4294967295"));
  EXPECT_FALSE(IsSyntheticWriteSid("S-1-5-21-1-2-3"));             // three values: a domain SID
  EXPECT_FALSE(IsSyntheticWriteSid("S-1-5-21-1-2-3-4-5"));         // five
  EXPECT_FALSE(IsSyntheticWriteSid("S-1-5-21-01-2-3-4"));          // a second spelling
  EXPECT_FALSE(IsSyntheticWriteSid("S-1-5-21-4294967296-2-3-4"));  // over 32 bits
  EXPECT_FALSE(IsSyntheticWriteSid("S-1-5-32-544"));
  EXPECT_FALSE(IsSyntheticWriteSid("S-1-5-21--1-2-3"));
  const std::uint32_t values[4] = {7, 0, 4294967295u, 42};
  EXPECT_EQ(FormatWriteSid(values), "S-1-5-21-7-0-4294967295-42");
}

TEST(WinSid, GeneratedWriteSidsAreValidDistinctAndMapToNoAccount) {
  std::set<std::string> seen;
  for (int i = 0; i < 16; ++i) {
    auto sid = GenerateWriteSid();
    ASSERT_TRUE(sid.ok()) << sid.error().ToString();
    EXPECT_TRUE(IsSyntheticWriteSid(*sid)) << *sid;
    seen.insert(*sid);
  }
  EXPECT_EQ(seen.size(), 16u);  // 128 random bits each: a repeat means the CSPRNG is broken
  auto parsed = Sid::FromString(*seen.begin());
  STOCKADE_ASSERT_OK(parsed);
  EXPECT_EQ(*GetSidSubAuthorityCount(parsed->get()), 5);
  auto account = LookupAccountBySid(*parsed);
  ASSERT_TRUE(account.ok()) << account.error().ToString();
  EXPECT_FALSE(account->has_value());
}

TEST(WinSid, LooksUpBuiltinAccountsAndReportsUnknownNames) {
  auto admins = LookupLocalAccount("Administrators");
  ASSERT_TRUE(admins.ok()) << admins.error().ToString();
  ASSERT_TRUE(admins->has_value());
  EXPECT_EQ((*admins)->sid.ToString(), "S-1-5-32-544");
  EXPECT_EQ((*admins)->use, SidTypeAlias);
  auto missing = LookupLocalAccount(testing::UniqueName("nosuch-"));
  ASSERT_TRUE(missing.ok()) << missing.error().ToString();
  EXPECT_FALSE(missing->has_value());
  auto resolved = ResolveLocalAccountSid(testing::UniqueName("nosuch-"));
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(resolved.error().os_error(), ERROR_NONE_MAPPED);
  EXPECT_NE(resolved.error().context().find("LookupAccountNameW"), std::string::npos);
}

TEST(WinSddl, AceBuildAndParseRoundTrip) {
  auto sid = Sid::FromString("S-1-5-21-1-2-3-4");
  STOCKADE_ASSERT_OK(sid);
  auto allow = MakeAce(ACCESS_ALLOWED_ACE_TYPE, kInheritToAll, kModifyMask, *sid);
  auto deny = MakeAce(ACCESS_DENIED_ACE_TYPE, kInheritToAll, kWriteRightsMask, *sid);
  auto audit = MakeAce(SYSTEM_AUDIT_ACE_TYPE, FAILED_ACCESS_ACE_FLAG, kWriteRightsMask, *sid);
  ASSERT_TRUE(allow.ok() && deny.ok() && audit.ok());
  auto acl = AclBuffer::Build({*deny, *allow, *audit});
  ASSERT_TRUE(acl.ok()) << acl.error().ToString();
  ACL_SIZE_INFORMATION info{};
  ASSERT_TRUE(GetAclInformation(acl->get(), &info, sizeof info, AclSizeInformation));
  EXPECT_EQ(info.AceCount, 3u);
  auto aces = ReadAces(acl->get());
  STOCKADE_ASSERT_OK(aces);
  ASSERT_EQ(aces->size(), 3u);
  EXPECT_EQ((*aces)[0], *deny);
  EXPECT_EQ((*aces)[1], *allow);
  EXPECT_EQ((*aces)[1].mask, kModifyMask);
  EXPECT_EQ((*aces)[1].sid, "S-1-5-21-1-2-3-4");
  EXPECT_EQ(AceToString((*aces)[0]), "(D;OICI;0xd0156;;;S-1-5-21-1-2-3-4)");
  EXPECT_EQ(AceToString((*aces)[2]), "(AU;FA;0xd0156;;;S-1-5-21-1-2-3-4)");
  // The ACL is valid to the system itself.
  EXPECT_TRUE(IsValidAcl(acl->get()));
}

TEST(WinSddl, DaclSddlRoundTripsThroughParseAndFormat) {
  const std::string sddl =
      "O:BAD:P(D;OICI;0xd0156;;;S-1-5-21-1-2-3-4)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
  auto parsed = ParseSecuritySddl(sddl);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_TRUE(parsed->dacl_protected);
  EXPECT_TRUE(parsed->dacl_present);
  EXPECT_EQ(parsed->owner, "S-1-5-32-544");
  ASSERT_EQ(parsed->dacl.size(), 3u);
  EXPECT_EQ(parsed->dacl[0].type, ACCESS_DENIED_ACE_TYPE);
  EXPECT_EQ(parsed->dacl[0].mask, kWriteRightsMask);
  EXPECT_EQ(parsed->dacl[1].sid, "S-1-5-18");
  EXPECT_EQ(parsed->dacl[1].mask, kFullAccessMask);

  auto formatted = FormatSecuritySddl(parsed->owner, parsed->dacl, parsed->dacl_protected);
  ASSERT_TRUE(formatted.ok()) << formatted.error().ToString();
  auto reparsed = ParseSecuritySddl(*formatted);
  STOCKADE_ASSERT_OK(reparsed);
  EXPECT_EQ(reparsed->dacl, parsed->dacl);
  EXPECT_EQ(reparsed->owner, parsed->owner);
  EXPECT_TRUE(reparsed->dacl_protected);
  auto canonical = CanonicalSddl(sddl, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION);
  STOCKADE_ASSERT_OK(canonical);
  EXPECT_EQ(*canonical, *formatted);

  // Unprotected, with an inherited ACE: both survive the round trip.
  auto inherited = ParseSecuritySddl("D:(A;OICIID;0x1200a9;;;BU)(A;;FA;;;SY)");
  STOCKADE_ASSERT_OK(inherited);
  EXPECT_FALSE(inherited->dacl_protected);
  ASSERT_EQ(inherited->dacl.size(), 2u);
  EXPECT_TRUE(inherited->dacl[0].inherited());
  EXPECT_EQ(ExplicitAces(inherited->dacl).size(), 1u);
}

TEST(WinSddl, EquivalentSpellingsCanonicaliseAlike) {
  const SECURITY_INFORMATION parts = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
  auto a = CanonicalSddl("O:LSD:(A;;CC;;;S-1-5-32-545)", parts);
  auto b = CanonicalSddl("O:S-1-5-19D:(A;;0x1;;;BU)", parts);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto bad = CanonicalSddl("D:(nonsense)", parts);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  auto corrupt = ParseSecuritySddl("D:(A;;FA;;;");
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().code(), ErrorCode::kStateCorrupt);
}

TEST(WinSddl, SaclRoundTrip) {
  auto sid = Sid::FromString("S-1-5-32-545");
  STOCKADE_ASSERT_OK(sid);
  auto audit = MakeAce(SYSTEM_AUDIT_ACE_TYPE, FAILED_ACCESS_ACE_FLAG, kWriteRightsMask, *sid);
  STOCKADE_ASSERT_OK(audit);
  auto acl = AclBuffer::Build({*audit});
  STOCKADE_ASSERT_OK(acl);
  auto sddl = SaclToSddl(acl->get());
  ASSERT_TRUE(sddl.ok()) << sddl.error().ToString();
  EXPECT_EQ(sddl->rfind("S:", 0), 0u) << *sddl;
  auto aces = SaclAcesFromSddl(*sddl);
  STOCKADE_ASSERT_OK(aces);
  ASSERT_EQ(aces->size(), 1u);
  EXPECT_EQ((*aces)[0], *audit);
  auto none = SaclToSddl(nullptr);
  STOCKADE_ASSERT_OK(none);
  EXPECT_EQ(*none, "");
  auto empty = SaclAcesFromSddl("");
  STOCKADE_ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(WinSddl, CanonicalOrderPutsExplicitDeniesFirst) {
  auto parsed = ParseSecuritySddl("D:(A;;FA;;;SY)(D;;FA;;;BG)(A;ID;FA;;;BU)(D;;0x1;;;AN)");
  STOCKADE_ASSERT_OK(parsed);
  const std::vector<Ace> ordered = CanonicalOrder(parsed->dacl);
  ASSERT_EQ(ordered.size(), 4u);
  EXPECT_EQ(ordered[0].type, ACCESS_DENIED_ACE_TYPE);
  EXPECT_EQ(ordered[0].sid, "S-1-5-32-546");
  EXPECT_EQ(ordered[1].type, ACCESS_DENIED_ACE_TYPE);
  EXPECT_EQ(ordered[1].sid, "S-1-5-7");
  EXPECT_EQ(ordered[2].sid, "S-1-5-18");
  EXPECT_TRUE(ordered[3].inherited());
}

TEST(WinSddl, DaclDifferencesAreNamed) {
  auto expected = ParseSecuritySddl("D:P(D;OICI;0xd0156;;;BG)(A;OICI;FA;;;SY)");
  STOCKADE_ASSERT_OK(expected);
  EXPECT_EQ(DescribeDaclDifference("x", true, expected->dacl, *expected), "");
  auto unprotected = ParseSecuritySddl("D:(D;OICI;0xd0156;;;BG)(A;OICI;FA;;;SY)");
  STOCKADE_ASSERT_OK(unprotected);
  EXPECT_NE(DescribeDaclDifference("x", true, expected->dacl, *unprotected).find("protected"),
            std::string::npos);
  auto other = ParseSecuritySddl("D:P(A;OICI;FA;;;SY)");
  STOCKADE_ASSERT_OK(other);
  const std::string difference = DescribeDaclDifference("folder", true, expected->dacl, *other);
  EXPECT_NE(difference.find("explicit ACEs"), std::string::npos) << difference;
  EXPECT_NE(difference.find("(D;OICI;0xd0156;;;S-1-5-32-546)"), std::string::npos) << difference;
  EXPECT_TRUE(
      HasAce(expected->dacl, ACCESS_DENIED_ACE_TYPE, kInheritToAll, kWriteRightsMask, "BG", true));
  EXPECT_FALSE(HasAce(expected->dacl, ACCESS_ALLOWED_ACE_TYPE, 0, kFullAccessMask, "BG", true));
  EXPECT_TRUE(NamesAnySid(expected->dacl, {"S-1-5-32-546"}));
  EXPECT_FALSE(NamesAnySid(expected->dacl, {"S-1-5-21-1-2-3-4"}));
}

TEST(WinSecurity, EnablesAndRestoresAPrivilegeTheTokenHolds) {
  if (!testing::Elevated()) GTEST_SKIP() << "needs an elevated token (SeSecurityPrivilege)";
  auto privilege_enabled = [] {
    HANDLE token = nullptr;
    OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token);
    LUID luid{};
    LookupPrivilegeValueW(nullptr, SE_SECURITY_NAME, &luid);
    PRIVILEGE_SET set{1, PRIVILEGE_SET_ALL_NECESSARY, {{luid, 0}}};
    BOOL result = FALSE;
    PrivilegeCheck(token, &set, &result);
    CloseHandle(token);
    return result != FALSE;
  };
  const bool before = privilege_enabled();
  {
    auto scope = PrivilegeScope::Enable(SE_SECURITY_NAME);
    ASSERT_TRUE(scope.ok()) << scope.error().ToString();
    EXPECT_TRUE(privilege_enabled());
  }
  EXPECT_EQ(privilege_enabled(), before);
  auto missing = PrivilegeScope::Enable(L"SeNoSuchPrivilege");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().context().find("LookupPrivilegeValueW"), std::string::npos);
}

}  // namespace
}  // namespace stockade::provision::win
