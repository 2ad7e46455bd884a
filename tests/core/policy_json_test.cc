// The policy's JSON, its canonical encoding and its hash (recorded with every audit session, so
// the encoding must not drift: the known answers below were computed independently with Python,
// json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False), and sha256sum).
#include "core/policy/policy_json.h"

#include <gtest/gtest.h>

#include "core/policy/default_policy.h"
#include "core/policy/policy_loader.h"

namespace stockade {
namespace {

constexpr std::string_view kDefaultCanonical =
    R"({"audit":{"fail_open":false,"fsync":true,"retention_days":365},"filesystem":{"deny_read":["~/.ssh",)"
    R"("~/.aws","~/.gnupg","~/.kube","~/.docker"],"protected":[".git",".codex",".agents"],)"
    R"("writable_roots":["{workspace}","{temp}"]},"identities":{"prefix":"stockade"},"limits":)"
    R"({"max_processes":1024,"memory_mb":8192},"network":{"offline":{"loopback_ports":[3128],)"
    R"("mode":"blocked"},"online":{"loopback_ports":[],"mode":"allowed"}},"version":1})";
constexpr std::string_view kDefaultHash =
    "5e3c64ab544faf6ecaf046c3294a65a2ac2a966d0d47f82f1171f907b809a954";

TEST(PolicyJson, DefaultCanonicalEncodingIsStable) {
  EXPECT_EQ(CanonicalPolicyJson(DefaultPolicy()), kDefaultCanonical);
}

TEST(PolicyJson, DefaultHashIsTheKnownAnswer) {
  EXPECT_EQ(PolicyHash(DefaultPolicy()), kDefaultHash);
}

TEST(PolicyJson, MirrorsTheTomlSchema) {
  nlohmann::json j = PolicyToJson(DefaultPolicy());
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["identities"]["prefix"], "stockade");
  EXPECT_EQ(j["network"]["offline"]["mode"], "blocked");
  EXPECT_EQ(j["network"]["offline"]["loopback_ports"], nlohmann::json::array({3128}));
  EXPECT_EQ(j["network"]["online"]["mode"], "allowed");
  EXPECT_EQ(j["filesystem"]["protected"][0], ".git");
  EXPECT_EQ(j["limits"]["memory_mb"], 8192);
  EXPECT_EQ(j["audit"]["fail_open"], false);
  EXPECT_FALSE(j.contains("source"));
}

TEST(PolicyJson, LayoutCommentsKeyOrderAndDefaultsDoNotChangeTheHash) {
  Expected<Policy> explicit_policy = ParsePolicy(DefaultPolicyToml(), "a.toml");
  Expected<Policy> terse = ParsePolicy(
      "version=1\n[audit]\nretention_days=365\n[network.offline]\nloopback_ports=[3128]\n"
      "mode='blocked'\n[limits]\nmemory_mb=8192 # same as default\n",
      "b.toml");
  ASSERT_TRUE(explicit_policy.ok()) << explicit_policy.error().ToString();
  ASSERT_TRUE(terse.ok()) << terse.error().ToString();
  EXPECT_EQ(PolicyHash(*explicit_policy), PolicyHash(*terse));
  EXPECT_EQ(PolicyHash(*terse), kDefaultHash);
}

TEST(PolicyJson, AnyValueChangesTheHash) {
  Policy changed = DefaultPolicy();
  changed.limits.memory_mb += 1;
  EXPECT_NE(PolicyHash(changed), kDefaultHash);
  Policy reordered = DefaultPolicy();
  std::swap(reordered.filesystem.writable_roots[0], reordered.filesystem.writable_roots[1]);
  EXPECT_NE(PolicyHash(reordered), kDefaultHash);
  Policy moved = DefaultPolicy();
  moved.source = "/elsewhere/policy.toml";
  EXPECT_EQ(PolicyHash(moved), kDefaultHash);
}

TEST(PolicyJson, NonAsciiIsWrittenAsUtf8) {
  Expected<Policy> policy = ParsePolicy(
      "version = 1\n[filesystem]\nwritable_roots = ['/srv/donn\xC3\xA9"
      "es']\n",
      "p.toml");
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  std::string canonical = CanonicalPolicyJson(*policy);
  EXPECT_NE(canonical.find("\"writable_roots\":[\"/srv/donn\xC3\xA9"
                           "es\"]"),
            std::string::npos)
      << canonical;
}

}  // namespace
}  // namespace stockade
