// The planner, for both target OSes on every build: which steps, in which order, with which
// params; the write SID drawn once and then reused from the journal; grants and revokes.
#include "provision/plan.h"

#include <gtest/gtest.h>

#include <set>

#include "core/policy/default_policy.h"
#include "core/policy/policy_loader.h"

namespace stockade::provision {
namespace {

Policy TestPolicy() {
  auto policy = ParsePolicy(
      "version = 1\n[identities]\nprefix = \"stk-t\"\n"
      "[network.offline]\nmode = \"blocked\"\nloopback_ports = [3128, 8080]\n"
      "[network.online]\nmode = \"allowed\"\n"
      "[filesystem]\nprotected = [\".git\", \"{workspace}/secrets\"]\n",
      "test.toml");
  EXPECT_TRUE(policy.ok()) << (policy.ok() ? "" : policy.error().ToString());
  return *policy;
}

PlanContext Ctx(TargetOs os, std::string state_dir) {
  PlanContext context;
  context.os = os;
  context.state_dir = std::move(state_dir);
  return context;
}

std::vector<std::string> Kinds(const std::vector<StepSpec>& specs) {
  std::vector<std::string> out;
  for (const StepSpec& s : specs) out.push_back(s.kind);
  return out;
}

StepRecord Live(std::int64_t txn, const StepSpec& spec) {
  StepRecord r;
  r.txn_id = txn;
  r.spec = spec;
  r.state = StepState::kApplied;
  return r;
}

TEST(PlanTest, LinuxApplyOrderAndParams) {
  PlanContext context = Ctx(TargetOs::kLinux, "/var/lib/stk");
  auto specs = PlanApply(TestPolicy(), context);
  ASSERT_TRUE(specs.ok()) << specs.error().ToString();
  EXPECT_EQ(Kinds(*specs), (std::vector<std::string>{kind::kGroup, kind::kUser, kind::kUser,
                                                     kind::kStateDir, kind::kNetworkRules}));
  EXPECT_EQ((*specs)[0].params["name"], "stk-t-users");
  EXPECT_EQ((*specs)[1].params["name"], "stk-t-offline");
  EXPECT_EQ((*specs)[1].params["identity"], "offline");
  EXPECT_EQ((*specs)[2].params["name"], "stk-t-online");
  EXPECT_EQ((*specs)[3].params["path"], "/var/lib/stk");
  EXPECT_EQ((*specs)[3].params["mode"], "0711");  // users reach the socket, list nothing
  const StepSpec& net = (*specs)[4];
  EXPECT_EQ(net.params["user"], "stk-t-offline");
  EXPECT_EQ(net.params["prefix"], "stk-t");
  EXPECT_EQ(net.params["loopback_ports"], nlohmann::json({3128, 8080}));
  EXPECT_EQ(net.params["nflog_group"], kNflogGroup);
  EXPECT_FALSE(net.params.contains("table"));  // the default table of the prefix
  // Targets are unique: the executor matches journal ownership by (kind, target).
  std::set<std::string> targets;
  for (const StepSpec& s : *specs) EXPECT_TRUE(targets.insert(s.target).second) << s.target;
}

TEST(PlanTest, BlockedOnlineIdentityGetsItsOwnTable) {
  Policy policy = TestPolicy();
  policy.online.mode = NetworkMode::kBlocked;
  auto specs = PlanApply(policy, Ctx(TargetOs::kLinux, "/s"));
  ASSERT_TRUE(specs.ok());
  ASSERT_EQ(specs->size(), 6u);
  EXPECT_EQ((*specs)[5].params["table"], "stockade_stk_t_online");
  EXPECT_EQ(NftTableFor("stk-t"), "stockade_stk_t");
}

TEST(PlanTest, WindowsApplyHasWindowsKindsAndReusesTheWriteSid) {
  PlanContext context = Ctx(TargetOs::kWindows, "C:\\ProgramData\\Stk");
  auto first = PlanApply(TestPolicy(), context);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(Kinds(*first),
            (std::vector<std::string>{kind::kGroup, kind::kUser, kind::kUser, kind::kStateDir,
                                      kind::kWriteSid, kind::kCredentials, kind::kNetworkRules,
                                      kind::kAuditPolicy}));
  EXPECT_EQ((*first)[1].params["hidden"], true);
  EXPECT_EQ((*first)[5].params["path"], "C:\\ProgramData\\Stk\\credentials.bin");
  const std::string sid = (*first)[4].params["sid"];
  EXPECT_EQ(sid.rfind("S-1-5-21-", 0), 0u);
  // Without a journal, each plan draws a fresh SID (CSPRNG) ...
  auto other = PlanApply(TestPolicy(), context);
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)[4].params["sid"], sid);
  // ... with one, the journaled SID is reused, so the plan is identical ("no changes").
  context.live.push_back(Live(1, (*first)[4]));
  auto second = PlanApply(TestPolicy(), context);
  ASSERT_TRUE(second.ok());
  for (std::size_t i = 0; i < first->size(); ++i) {
    EXPECT_EQ((*first)[i].params, (*second)[i].params) << (*first)[i].target;
    EXPECT_EQ((*first)[i].target, (*second)[i].target);
  }
}

TEST(PlanTest, ServiceStepOnlyWithABinary) {
  PlanContext context = Ctx(TargetOs::kLinux, "/s");
  context.service_binary = "/usr/bin/stockaded";
  auto specs = PlanApply(TestPolicy(), context);
  ASSERT_TRUE(specs.ok());
  EXPECT_EQ(specs->back().kind, kind::kService);
  EXPECT_EQ(specs->back().params["binary"], "/usr/bin/stockaded");
}

TEST(PlanTest, RelativeStateDirIsRefused) {
  auto specs = PlanApply(TestPolicy(), Ctx(TargetOs::kLinux, "rel/dir"));
  ASSERT_FALSE(specs.ok());
  EXPECT_EQ(specs.error().code(), ErrorCode::kInvalidArgument);
}

TEST(PlanTest, GrantNeedsTheIdentitiesThenExpandsProtectedPaths) {
  for (TargetOs os : {TargetOs::kLinux, TargetOs::kWindows}) {
    const bool win = os == TargetOs::kWindows;
    PlanContext context = Ctx(os, win ? "C:\\S" : "/s");
    const std::string ws = win ? "C:\\work\\proj" : "/work/proj";
    auto refused = PlanGrant(TestPolicy(), context, ws);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code(), ErrorCode::kNotFound);
    EXPECT_NE(refused.error().context().find("apply"), std::string::npos);

    auto apply = PlanApply(TestPolicy(), context);
    ASSERT_TRUE(apply.ok());
    for (const StepSpec& s : *apply) context.live.push_back(Live(1, s));
    auto grant = PlanGrant(TestPolicy(), context, ws);
    ASSERT_TRUE(grant.ok()) << grant.error().ToString();
    EXPECT_EQ(grant->kind, kind::kWorkspaceGrant);
    EXPECT_EQ(grant->params["path"], ws);
    const std::string secrets = win ? "C:\\work\\proj\\secrets" : "/work/proj/secrets";
    EXPECT_EQ(grant->params["protected"], nlohmann::json({".git", secrets}));
    if (win) {
      EXPECT_EQ(grant->params["sid"], (*apply)[4].params["sid"]);
      EXPECT_EQ(grant->params["group"], "stk-t-users");
    } else {
      EXPECT_EQ(grant->params["users"], nlohmann::json({"stk-t-offline", "stk-t-online"}));
    }
  }
}

TEST(PlanTest, RevokeFindsEveryLiveGrantTransactionNewestFirst) {
  PlanContext context = Ctx(TargetOs::kLinux, "/s");
  StepSpec a{kind::kWorkspaceGrant, "workspace /w/a", {{"path", "/w/a"}}};
  StepSpec b{kind::kWorkspaceGrant, "workspace /w/b", {{"path", "/w/b"}}};
  context.live = {Live(3, a), Live(4, b), Live(7, a)};
  EXPECT_EQ(GrantTransactionsFor(context, "/w/a"), (std::vector<std::int64_t>{7, 3}));
  EXPECT_EQ(GrantTransactionsFor(context, "/w/b/"), (std::vector<std::int64_t>{4}));
  EXPECT_TRUE(GrantTransactionsFor(context, "/w/c").empty());
}

}  // namespace
}  // namespace stockade::provision
