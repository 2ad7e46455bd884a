// The broker's decisions (runner/service/broker.h) and the policy -> LaunchSpec translation
// (runner/service/spec_builder.h), portable: the machine's answers come from a table, so every
// rule and its order is checked on both build targets. The Linux service tests exercise the same
// code against the real system.
#include <gtest/gtest.h>

#include <map>

#include "runner/service/broker.h"
#include "runner/service/spec_builder.h"

namespace stockade::runner::service {
namespace {

constexpr paths::PathStyle kPosix = paths::PathStyle::kPosix;

class TableFacts : public SystemFacts {
 public:
  Expected<std::optional<Account>> FindAccount(const std::string& name) override {
    auto it = accounts.find(name);
    if (it == accounts.end()) return std::optional<Account>();
    return std::optional<Account>(it->second);
  }
  Expected<std::string> RealPath(const std::string& path) override {
    auto it = real.find(path);
    if (it == real.end()) return Error(ErrorCode::kNotFound, "realpath(" + path + ")");
    return it->second;
  }
  Expected<std::uint32_t> OwnerUid(const std::string& path) override {
    auto it = owners.find(path);
    if (it == owners.end()) return Error(ErrorCode::kNotFound, "stat " + path);
    return it->second;
  }
  Expected<std::string> HomeOf(std::uint32_t uid) override {
    return uid == 1000 ? Expected<std::string>(std::string("/home/ann"))
                       : Expected<std::string>(Error(ErrorCode::kNotFound, "no home"));
  }
  Expected<std::vector<Grant>> LiveGrants() override { return grants; }

  std::map<std::string, Account> accounts;
  std::map<std::string, std::string> real;
  std::map<std::string, std::uint32_t> owners;
  std::vector<Grant> grants;
};

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_.identity_prefix = "tst";
    policy_.source = "test.toml";
    facts_.accounts["tst-offline"] = {"tst-offline", 901, 901};
    facts_.accounts["tst-online"] = {"tst-online", 902, 901};
    facts_.real["/w"] = "/w";
    facts_.real["/w/src"] = "/w/src";
    facts_.real["/link"] = "/w";  // a symlink to the workspace
    facts_.real["/other"] = "/other";
    facts_.real["/old"] = "/old";
    facts_.owners["/old"] = 1000;
    facts_.grants = {{"/w", 1000}, {"/other", 1001}, {"/old", std::nullopt}};
    request_.identity = "offline";
    request_.workspace = "/w";
    request_.cwd = "/w/src";
    request_.argv = {"make"};
  }

  Error Refusal(const Caller& caller) {
    auto r = Authorize(policy_, facts_, caller, request_, kPosix);
    EXPECT_FALSE(r.ok());
    return r.ok() ? Error(ErrorCode::kOk, "") : r.error();
  }

  Policy policy_;
  TableFacts facts_;
  protocol::RunRequest request_;
  const Caller ann_{1000, 1000, 42, ""};
};

TEST_F(BrokerTest, TheOwnerIsAllowedWithEverythingResolved) {
  auto ok = Authorize(policy_, facts_, ann_, request_, kPosix);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->account.name, "tst-offline");
  EXPECT_EQ(ok->account.uid, 901u);
  EXPECT_EQ(ok->workspace, "/w");
  EXPECT_EQ(ok->cwd, "/w/src");
  EXPECT_EQ(ok->home, "/home/ann");
  // Through a symlink to the granted folder: the realpath is what counts.
  request_.workspace = "/link";
  EXPECT_TRUE(Authorize(policy_, facts_, ann_, request_, kPosix).ok());
  // Root may use any grant.
  request_.workspace = request_.cwd = "/other";
  EXPECT_TRUE(Authorize(policy_, facts_, Caller{0, 0, 1, ""}, request_, kPosix).ok());
}

TEST_F(BrokerTest, EachRuleRefusesWithItsCode) {
  Caller inside = ann_;
  inside.inside_tree = "cgroup /stockade/run-1-1";
  EXPECT_EQ(Refusal(inside).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Refusal(Caller{902, 901, 7, ""}).code(), ErrorCode::kPermissionDenied);

  request_.identity = "root";
  EXPECT_EQ(Refusal(ann_).code(), ErrorCode::kInvalidArgument);
  request_.identity = "online";
  facts_.accounts.erase("tst-online");
  EXPECT_EQ(Refusal(ann_).code(), ErrorCode::kNotProvisioned);
  request_.identity = "offline";

  request_.workspace = "w";
  EXPECT_EQ(Refusal(ann_).code(), ErrorCode::kInvalidArgument);
  request_.workspace = "/missing";
  EXPECT_EQ(Refusal(ann_).code(), ErrorCode::kNotFound);
  facts_.real["/ungranted"] = "/ungranted";
  request_.workspace = "/ungranted";
  const Error not_granted = Refusal(ann_);
  EXPECT_EQ(not_granted.code(), ErrorCode::kNotGranted);
  EXPECT_NE(not_granted.context().find("stockade-provision grant /ungranted"), std::string::npos);

  request_.workspace = request_.cwd = "/other";
  const Error other = Refusal(ann_);
  EXPECT_EQ(other.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(other.context().find("granted to uid 1001"), std::string::npos) << other.context();

  request_.workspace = "/w";
  request_.cwd = "/other";
  const Error cwd = Refusal(ann_);
  EXPECT_EQ(cwd.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(cwd.context().find("outside the workspace"), std::string::npos);
}

TEST_F(BrokerTest, AGrantWithoutOwnerBelongsToTheFoldersOwner) {
  request_.workspace = request_.cwd = "/old";
  EXPECT_TRUE(Authorize(policy_, facts_, ann_, request_, kPosix).ok());
  EXPECT_EQ(Refusal(Caller{1001, 1001, 9, ""}).code(), ErrorCode::kPermissionDenied);
}

TEST(SpecBuilder, TheSpecComesFromThePolicy) {
  Policy policy;
  policy.source = "p.toml";
  policy.filesystem.writable_roots = {"{workspace}", "{temp}", "~/.cache"};
  policy.filesystem.protected_paths = {".git", "{workspace}/secrets"};
  policy.filesystem.deny_read = {"~/.ssh", "/etc/shadow"};
  policy.offline.loopback_ports = {3128};
  policy.online.mode = NetworkMode::kAllowed;
  policy.limits.max_processes = 77;
  policy.limits.memory_mb = 3;
  SpecInputs in;
  in.style = paths::PathStyle::kPosix;
  in.kind = IdentityKind::kOffline;
  in.identity = {false, "tst-offline", 901, 901, {901}};
  in.workspace = "/w";
  in.cwd = "/w/src";
  in.temp = "/var/lib/stockade-sessions/abc";
  in.home = "/home/ann";
  in.argv = {"make"};
  in.env = {"PATH=/usr/bin", "TMPDIR=/tmp/evil"};
  in.extra_deny_read = {"/var/lib/stockade"};
  auto spec = BuildLaunchSpec(policy, in);
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_EQ(spec->writable_roots, (std::vector<std::string>{"/w", in.temp, "/home/ann/.cache"}));
  EXPECT_EQ(spec->protected_paths, (std::vector<std::string>{".git", "/w/secrets"}));
  EXPECT_EQ(spec->deny_read,
            (std::vector<std::string>{"/home/ann/.ssh", "/etc/shadow", "/var/lib/stockade"}));
  EXPECT_EQ(spec->network, NetworkAccess::kBlocked);
  EXPECT_EQ(spec->loopback_ports, (std::vector<std::uint16_t>{3128}));
  EXPECT_EQ(spec->limits.max_processes, 77u);
  EXPECT_EQ(spec->limits.memory_bytes, 3u * 1024 * 1024);
  EXPECT_EQ(spec->env, (std::vector<std::string>{"PATH=/usr/bin", "TMPDIR=" + in.temp}));
  EXPECT_EQ(spec->identity.uid, 901u);

  in.kind = IdentityKind::kOnline;
  auto online = BuildLaunchSpec(policy, in);
  ASSERT_TRUE(online.ok());
  EXPECT_EQ(online->network, NetworkAccess::kAllowed);
  EXPECT_TRUE(online->loopback_ports.empty());
}

TEST(SpecBuilder, ClientEnvironmentNeverWidensThePolicy) {
  Policy policy;
  policy.source = "p.toml";
  policy.filesystem.writable_roots = {"{workspace}", "${HOME}"};
  SpecInputs in;
  in.style = paths::PathStyle::kPosix;
  in.identity = {false, "x", 901, 901, {}};
  in.workspace = "/w";
  in.cwd = "/w";
  in.argv = {"true"};
  in.env = {"HOME=/"};
  auto spec = BuildLaunchSpec(policy, in);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.error().code(), ErrorCode::kPathInvalid);
  EXPECT_NE(spec.error().context().find("writable_roots entry '${HOME}'"), std::string::npos)
      << spec.error().context();

  policy.filesystem.writable_roots = {"{workspace}", "{temp}"};
  spec = BuildLaunchSpec(policy, in);  // no temp given: "{temp}" cannot be expanded
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.error().code(), ErrorCode::kPathInvalid);

  policy.filesystem.writable_roots = {"/"};
  spec = BuildLaunchSpec(policy, in);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().context().find("filesystem root"), std::string::npos);
}

}  // namespace
}  // namespace stockade::runner::service
