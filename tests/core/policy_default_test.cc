// The embedded default policy: it loads through the same parser, says what ARCHITECTURE.md says,
// and sets every key itself (so nothing else silently decides what the default is).
#include <gtest/gtest.h>

#include <string>

#include "core/policy/default_policy.h"
#include "core/policy/policy_json.h"
#include "core/policy/policy_loader.h"

namespace stockade {
namespace {

TEST(DefaultPolicy, LoadsThroughTheParser) {
  Expected<Policy> parsed = ParsePolicy(DefaultPolicyToml(), "default.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(PolicyToJson(*parsed), PolicyToJson(DefaultPolicy()));
}

TEST(DefaultPolicy, IsTheArchitectureExample) {
  const Policy& p = DefaultPolicy();
  EXPECT_EQ(p.source, "<embedded default>");
  EXPECT_EQ(p.version, 1);
  EXPECT_EQ(p.identity_prefix, "stockade");
  EXPECT_EQ(p.offline.mode, NetworkMode::kBlocked);
  EXPECT_EQ(p.offline.loopback_ports, (std::vector<std::uint16_t>{3128}));
  EXPECT_EQ(p.online.mode, NetworkMode::kAllowed);
  EXPECT_TRUE(p.online.loopback_ports.empty());
  EXPECT_EQ(p.filesystem.writable_roots, (std::vector<std::string>{"{workspace}", "{temp}"}));
  EXPECT_EQ(p.filesystem.protected_paths, (std::vector<std::string>{".git", ".codex", ".agents"}));
  EXPECT_EQ(p.filesystem.deny_read,
            (std::vector<std::string>{"~/.ssh", "~/.aws", "~/.gnupg", "~/.kube", "~/.docker"}));
  EXPECT_EQ(p.limits.max_processes, 1024u);
  EXPECT_EQ(p.limits.memory_mb, 8192u);
  EXPECT_EQ(p.audit.retention_days, 365u);
  EXPECT_FALSE(p.audit.fail_open);
}

TEST(DefaultPolicy, TextSetsEveryKey) {
  // Parsed over a base where every value differs from the default, the text must still give
  // the default: no key is left to the base.
  Policy poisoned;
  poisoned.identity_prefix = "poison";
  poisoned.offline = {NetworkMode::kAllowed, {1, 2}};
  poisoned.online = {NetworkMode::kBlocked, {3}};
  poisoned.filesystem = {{"/poison"}, {"poison"}, {"/poison/read"}};
  poisoned.limits = {7, 77};
  poisoned.audit = {9, true};
  Expected<Policy> over_poison =
      ParsePolicyOver(DefaultPolicyToml(), kEmbeddedPolicySource, poisoned);
  ASSERT_TRUE(over_poison.ok()) << over_poison.error().ToString();
  EXPECT_EQ(*over_poison, DefaultPolicy());
}

TEST(DefaultPolicy, VersionOneAloneIsTheDefault) {
  Expected<Policy> minimal = ParsePolicy("version = 1\n", "minimal.toml");
  ASSERT_TRUE(minimal.ok()) << minimal.error().ToString();
  Policy expected = DefaultPolicy();
  expected.source = "minimal.toml";
  EXPECT_EQ(*minimal, expected);
}

TEST(DefaultPolicy, DocumentedExampleFileIsTheDefault) {
  // docs/examples/policy.toml says it is the embedded default written out: keep it true.
  std::string path = std::string(STOCKADE_TEST_DATA_DIR) + "/../../docs/examples/policy.toml";
  Expected<Policy> example = LoadPolicyFile(path);
  ASSERT_TRUE(example.ok()) << example.error().ToString();
  EXPECT_EQ(PolicyToJson(*example), PolicyToJson(DefaultPolicy()));
}

TEST(DefaultPolicy, ParsedOnceAndShared) { EXPECT_EQ(&DefaultPolicy(), &DefaultPolicy()); }

TEST(DefaultPolicy, TextStartsWithItsVersion) {
  std::string_view text = DefaultPolicyToml();
  EXPECT_NE(text.find("\nversion = 1\n"), std::string_view::npos);
  EXPECT_LT(text.size(), kMaxPolicyFileBytes);
}

TEST(PolicyModel, NamesOfIdentitiesGroupAndNetwork) {
  Policy p;
  p.identity_prefix = "ci";
  p.offline.mode = NetworkMode::kBlocked;
  p.online.mode = NetworkMode::kAllowed;
  EXPECT_EQ(p.IdentityName(IdentityKind::kOffline), "ci-offline");
  EXPECT_EQ(p.IdentityName(IdentityKind::kOnline), "ci-online");
  EXPECT_EQ(p.GroupName(), "ci-users");
  EXPECT_EQ(&p.Network(IdentityKind::kOffline), &p.offline);
  EXPECT_EQ(&p.Network(IdentityKind::kOnline), &p.online);
  EXPECT_STREQ(IdentityKindName(IdentityKind::kOffline), "offline");
  EXPECT_STREQ(IdentityKindName(IdentityKind::kOnline), "online");
  EXPECT_STREQ(NetworkModeName(NetworkMode::kBlocked), "blocked");
  EXPECT_STREQ(NetworkModeName(NetworkMode::kAllowed), "allowed");
}

}  // namespace
}  // namespace stockade
