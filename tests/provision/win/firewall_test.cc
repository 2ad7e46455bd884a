// Firewall rules: the normalisation the read-back relies on (pure, real everywhere), what Wine's
// stub firewall is detected doing, and -- on Windows -- that the rules really block.
#include "provision/win/firewall.h"

#include <winsock2.h>
#include <ws2tcpip.h>

#include <thread>

#include "gtest/gtest.h"
#include "provision/win/network_rules_step.h"
#include "provision/win/sid.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

using testing::MakeStep;
using testing::Spec;

AddressSet Addresses(const char* list) {
  auto set = AddressSet::Parse(list);
  EXPECT_TRUE(set.ok()) << list << ": " << (set.ok() ? "" : set.error().ToString());
  return set.ok() ? *set : AddressSet();
}

TEST(WinFirewallAddresses, EquivalentSpellingsCompareEqual) {
  EXPECT_EQ(Addresses("127.0.0.0/8"), Addresses("127.0.0.0/255.0.0.0"));
  EXPECT_EQ(Addresses("127.0.0.0/8"), Addresses("127.0.0.0-127.255.255.255"));
  EXPECT_EQ(Addresses("127.1.2.3/8"), Addresses("127.0.0.0/8"));
  EXPECT_EQ(Addresses("::1"), Addresses("::1/128"));
  EXPECT_EQ(Addresses("10.0.0.0-10.0.0.255, 10.0.1.0-10.0.1.255"), Addresses("10.0.0.0/23"));
  EXPECT_EQ(Addresses("*"), Addresses(""));
  EXPECT_EQ(Addresses("LocalSubnet,1.2.3.4"), Addresses("1.2.3.4, localsubnet"));
  EXPECT_EQ(Addresses("::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            Addresses("::2-::3,::4-FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF"));
  EXPECT_FALSE(Addresses("127.0.0.0/8") == Addresses("127.0.0.0/16"));
  EXPECT_FALSE(Addresses("::1") == Addresses("127.0.0.1"));
  EXPECT_FALSE(Addresses("*") == Addresses("0.0.0.0-255.255.255.255"));
  EXPECT_EQ(Addresses("10.0.0.0/23").ToString(), "10.0.0.0-10.0.1.255");
}

TEST(WinFirewallAddresses, MalformedAddressesAreRefused) {
  for (const char* bad : {"300.1.1.1", "1.2.3.4/33", "1.2.3.4-1.2.3.1", "::1/129", "1.2.3.4-::1",
                          "1.2.3.4/255.0.255.0.1", "a b"}) {
    auto set = AddressSet::Parse(bad);
    ASSERT_FALSE(set.ok()) << bad;
    EXPECT_EQ(set.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(WinFirewallPorts, SetsAndComplements) {
  auto a = PortSet::Parse("80, 81-90,91");
  auto b = PortSet::Parse("80-91");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->ToString(), "80-91");
  auto rpc = PortSet::Parse("RPC-EPMap,135");
  STOCKADE_ASSERT_OK(rpc);
  EXPECT_EQ(rpc->ToString(), "135,rpc-epmap");
  EXPECT_FALSE(PortSet::Parse("70000").ok());
  EXPECT_FALSE(PortSet::Parse("90-80").ok());
  EXPECT_EQ(ComplementPorts({}), "1-65535");
  EXPECT_EQ(ComplementPorts({3128}), "1-3127,3129-65535");
  EXPECT_EQ(ComplementPorts({1}), "2-65535");
  EXPECT_EQ(ComplementPorts({65535}), "1-65534");
  EXPECT_EQ(ComplementPorts({81, 80, 80}), "1-79,82-65535");
  EXPECT_EQ(ComplementPorts({2, 4}), "1,3,5-65535");
}

TEST(WinFirewallRules, PlannedRulesBlockEverythingButTheAllowedLoopbackPorts) {
  const auto rules = PlannedRules("Stockade", "stk-offline", "S-1-5-21-1-2-3-4", {3128});
  ASSERT_EQ(rules.size(), 6u);
  for (const FirewallRule& rule : rules) {
    EXPECT_EQ(rule.name.rfind("Stockade stk-offline: ", 0), 0u) << rule.name;
    EXPECT_EQ(rule.action, kFwActionBlock);
    EXPECT_TRUE(rule.enabled);
    EXPECT_EQ(rule.local_user_authorized_list, "O:LSD:(A;;CC;;;S-1-5-21-1-2-3-4)");
    EXPECT_EQ(rule.profiles, kFwProfilesAll);
  }
  EXPECT_EQ(rules[0].direction, kFwDirectionOut);
  EXPECT_EQ(rules[0].protocol, kFwProtocolAny);
  EXPECT_EQ(
      Addresses(rules[0].remote_addresses.c_str()),
      Addresses("0.0.0.0-126.255.255.255,128.0.0.0/1,::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_EQ(rules[1].direction, kFwDirectionIn);
  EXPECT_EQ(rules[2].protocol, kFwProtocolTcp);
  EXPECT_EQ(rules[2].remote_ports, "1-3127,3129-65535");
  EXPECT_EQ(Addresses(rules[2].remote_addresses.c_str()), Addresses("127.0.0.0/8,::1"));
  EXPECT_EQ(rules[3].protocol, kFwProtocolUdp);
  EXPECT_EQ(rules[3].remote_ports, "");
  EXPECT_EQ(rules[4].protocol, kFwProtocolIcmpV4);
  EXPECT_EQ(rules[5].protocol, kFwProtocolIcmpV6);
  // No allowed port: the TCP rule blocks every port (no port list).
  EXPECT_EQ(PlannedRules("Stockade", "u", "S-1-5-21-1-2-3-4", {})[2].remote_ports, "");
}

TEST(WinFirewallRules, JsonRoundTripAndComparison) {
  FirewallRule rule = PlannedRules("Stockade", "u", "S-1-5-21-1-2-3-4", {80})[2];
  auto back = FirewallRule::FromJson(rule.ToJson());
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(CompareRules(rule, *back), "");
  // What Windows rewrites on read-back is not a difference ...
  FirewallRule read = *back;
  read.remote_addresses = "127.0.0.0/255.0.0.0,::1";
  read.local_addresses = "*";
  read.interface_types = "all";
  read.profiles = 7;
  read.local_user_authorized_list = "O:S-1-5-19D:(A;;0x1;;;S-1-5-21-1-2-3-4)";
  EXPECT_EQ(CompareRules(rule, read), "");
  // ... a changed meaning is.
  read.action = kFwActionAllow;
  EXPECT_NE(CompareRules(rule, read).find("Action"), std::string::npos);
  read = *back;
  read.remote_ports = "1-79";
  EXPECT_NE(CompareRules(rule, read).find("RemotePorts"), std::string::npos);
  read = *back;
  read.local_user_authorized_list = "";
  EXPECT_NE(CompareRules(rule, read).find("LocalUserAuthorizedList"), std::string::npos);
  auto corrupt = FirewallRule::FromJson(nlohmann::json{{"protocol", 6}});
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().code(), ErrorCode::kStateCorrupt);
}

FirewallRule HarmlessRule() {
  FirewallRule rule;
  rule.name = "StockadeTest " + testing::UniqueName("") + ": disabled allow";
  rule.description = "Stockade test rule (disabled allow; removed by the test)";
  rule.direction = kFwDirectionOut;
  rule.action = kFwActionAllow;
  rule.protocol = kFwProtocolTcp;
  rule.remote_ports = "9";
  rule.remote_addresses = "192.0.2.1";  // TEST-NET-1
  rule.enabled = false;
  return rule;
}

TEST(WinFirewallPolicy, UnderWineAddReturnsSuccessButTheReadBackFindsNothing) {
  STOCKADE_ONLY_UNDER_WINE("INetFwRules::Add is a stub that stores nothing");
  auto policy = FirewallPolicy::Open();
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  const FirewallRule rule = HarmlessRule();
  Status added = policy->AddRule(rule);
  ASSERT_FALSE(added.ok()) << "Add's S_OK must not be trusted";
  EXPECT_EQ(added.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(added.error().context().find("returned S_OK but no rule"), std::string::npos)
      << added.error().ToString();
  auto listed = policy->ListRules("StockadeTest ");
  STOCKADE_ASSERT_OK(listed);
  EXPECT_TRUE(listed->empty());
}

TEST(WinFirewallPolicy, UnderWineAUserScopedRuleIsRefusedBeforeAnythingIsAdded) {
  STOCKADE_ONLY_UNDER_WINE("INetFwRule3 is not offered");
  auto policy = FirewallPolicy::Open();
  STOCKADE_ASSERT_OK(policy);
  FirewallRule rule = HarmlessRule();
  rule.local_user_authorized_list = "O:LSD:(A;;CC;;;S-1-5-32-546)";
  Status added = policy->AddRule(rule);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(added.error().context().find("INetFwRule3"), std::string::npos);
  EXPECT_NE(added.error().context().find("not added"), std::string::npos);
  EXPECT_EQ(added.error().os_kind(), OsErrorKind::kHresult);
  Status effective = policy->CheckLocalRulesEffective();
  ASSERT_FALSE(effective.ok()) << "Wine cannot say whether local rules take effect";
  EXPECT_NE(effective.error().context().find("get_LocalPolicyModifyState"), std::string::npos);
}

TEST(WinNetworkRulesStep, UnderWineApplyFailsClearlyVerifyFailsAndUndoIsClean) {
  STOCKADE_ONLY_UNDER_WINE("the firewall COM objects are stubs");
  const std::string prefix = "StockadeTest" + testing::UniqueName("");
  auto step =
      MakeStep(Spec(kind::kNetworkRules, "firewall",
                    {{"user", "Guests"}, {"loopback_ports", {3128}}, {"rule_prefix", prefix}}));
  ASSERT_NE(step, nullptr);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_EQ((*before)["sid"], "S-1-5-32-546");
  EXPECT_TRUE((*before)["rules"].empty());
  Status applied = step->Apply();
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(applied.error().os_kind(), OsErrorKind::kHresult);
  Status verified = step->Verify();
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(verified.error().context().find("is missing"), std::string::npos)
      << verified.error().ToString();
  STOCKADE_ASSERT_OK(step->Undo(*before));
  Status undone = step->VerifyUndone(*before);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
}

TEST(WinFirewallPolicy, RealWindowsAddsReadsBackAndRemovesAHarmlessRule) {
  STOCKADE_SKIP_UNDER_WINE("needs the Windows Firewall service");
  auto policy = FirewallPolicy::Open();
  STOCKADE_ASSERT_OK(policy);
  const FirewallRule rule = HarmlessRule();
  Status added = policy->AddRule(rule);
  ASSERT_TRUE(added.ok()) << added.error().ToString();
  auto listed = policy->ListRules(rule.name);
  STOCKADE_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(CompareRules(rule, listed->front()), "");
  STOCKADE_ASSERT_OK(policy->RemoveRules(rule.name));
  listed = policy->ListRules(rule.name);
  STOCKADE_ASSERT_OK(listed);
  EXPECT_TRUE(listed->empty());
}

// Connects to 127.0.0.1:port with a short timeout; true when the connection is accepted.
bool Connects(std::uint16_t port) {
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET) return false;
  u_long nonblocking = 1;
  ioctlsocket(s, FIONBIO, &nonblocking);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(s, reinterpret_cast<sockaddr*>(&address), sizeof address);
  fd_set writable;
  FD_ZERO(&writable);
  FD_SET(s, &writable);
  timeval timeout{2, 0};
  const bool ok = select(0, nullptr, &writable, nullptr, &timeout) == 1;
  closesocket(s);
  return ok;
}

SOCKET Listen(std::uint16_t* port) {
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address);
  int size = sizeof address;
  getsockname(s, reinterpret_cast<sockaddr*>(&address), &size);
  listen(s, 4);
  *port = ntohs(address.sin_port);
  return s;
}

TEST(WinNetworkRulesStep, RealWindowsRulesBlockTheScopedUserExceptAllowedLoopbackPorts) {
  STOCKADE_SKIP_UNDER_WINE("needs the Windows Firewall service and WFP");
  WSADATA wsa;
  ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &wsa), 0);
  std::uint16_t allowed = 0;
  std::uint16_t blocked = 0;
  SOCKET allowed_listener = Listen(&allowed);
  SOCKET blocked_listener = Listen(&blocked);
  ASSERT_TRUE(Connects(allowed) && Connects(blocked)) << "loopback works before the rules";
  // Scoped to the user running the test, for the length of the test only.
  const std::string prefix = "StockadeTest" + testing::UniqueName("");
  auto step = MakeStep(Spec(kind::kNetworkRules, "firewall",
                            {{"user", testing::CurrentUserName()},
                             {"loopback_ports", {allowed}},
                             {"rule_prefix", prefix}}));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  Status applied = step->Apply();
  if (!applied.ok()) {
    Status undone = step->Undo(*before);
    FAIL() << applied.error().ToString()
           << (undone.ok() ? "" : "; undo: " + undone.error().ToString());
  }
  STOCKADE_EXPECT_OK(step->Verify());
  EXPECT_TRUE(Connects(allowed)) << "the allowed loopback port must stay reachable";
  EXPECT_FALSE(Connects(blocked)) << "any other loopback port must be blocked";
  STOCKADE_ASSERT_OK(step->Undo(*before));
  STOCKADE_EXPECT_OK(step->VerifyUndone(*before));
  EXPECT_TRUE(Connects(blocked)) << "undo gives the network back";
  closesocket(allowed_listener);
  closesocket(blocked_listener);
  WSACleanup();
}

}  // namespace
}  // namespace stockade::provision::win
